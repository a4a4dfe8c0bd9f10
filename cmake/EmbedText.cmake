# Embeds text files in C++ at build time: the services' Lua scripts, the
# clients' gRPC service config. Each file lives where it belongs in the
# source tree; the build turns it into a header in the build tree (never
# committed) holding the file's text as a constant, and regenerates the
# header when the file changes, so an installed binary needs no checkout.
#
#   include(EmbedText)
#   omnicx_embed_text(omnicx_profile NAMESPACE omnicx::profile::lua
#     lua/apply_event.lua lua/merge_customers.lua)
#
# makes "services/profile/lua/apply_event_lua.h" (included from the
# repository root, like the generated protos) declare
#
#   namespace omnicx::profile::lua {
#   inline constexpr char kApplyEventLua[] = "...the file's text...";
#   }
#
# (<dir>/<stem>.<ext> -> "<dir>/<stem>_<ext>.h" declaring k<Stem><Ext>.)
#
# This file is also the generator: the build runs it with cmake -P.

# omnicx_embed_text(<target> NAMESPACE <ns> <file>...): the headers are
# sources of <target>, which sees the build tree's root as an include path.
function(omnicx_embed_text target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "NAMESPACE" "")
  if(NOT ARG_NAMESPACE)
    message(FATAL_ERROR "omnicx_embed_text(${target}): NAMESPACE is required")
  endif()
  set(headers)
  foreach(file ${ARG_UNPARSED_ARGUMENTS})
    get_filename_component(source ${file} ABSOLUTE)
    file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${source})
    if(NOT rel MATCHES "\\.[A-Za-z0-9]+$")
      message(FATAL_ERROR "omnicx_embed_text(${target}): ${rel} has no extension")
    endif()
    string(REGEX REPLACE "\\.([A-Za-z0-9]+)$" "_\\1.h" header_rel ${rel})
    set(header ${PROJECT_BINARY_DIR}/${header_rel})
    add_custom_command(
      OUTPUT ${header}
      COMMAND ${CMAKE_COMMAND} -DSOURCE=${source} -DRELATIVE=${rel}
              -DHEADER=${header} -DNAMESPACE=${ARG_NAMESPACE}
              -P ${OMNICX_EMBED_TEXT_SCRIPT}
      DEPENDS ${source} ${OMNICX_EMBED_TEXT_SCRIPT}
      COMMENT "Embedding ${rel}"
      VERBATIM)
    list(APPEND headers ${header})
  endforeach()
  target_sources(${target} PRIVATE ${headers})
  target_include_directories(${target} PRIVATE ${PROJECT_BINARY_DIR})
endfunction()

if(NOT CMAKE_SCRIPT_MODE_FILE)
  set(OMNICX_EMBED_TEXT_SCRIPT ${CMAKE_CURRENT_LIST_FILE})
  return()
endif()

# --- cmake -P: SOURCE (the file), RELATIVE (its path from the repository
# root), HEADER (what to write), NAMESPACE.
file(READ ${SOURCE} text)
# The text goes in a raw string literal, which this sequence would end.
set(delimiter "omnicx_text")
string(FIND "${text}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${RELATIVE} contains )${delimiter}\", which ends the raw string it is embedded in")
endif()
# apply_event.lua -> kApplyEventLua; service_config.json -> kServiceConfigJson.
get_filename_component(name ${SOURCE} NAME)
string(REGEX REPLACE "\\.([A-Za-z0-9]+)$" "_\\1" stem ${name})
string(REPLACE "_" ";" words ${stem})
set(constant "k")
foreach(word ${words})
  string(SUBSTRING ${word} 0 1 first)
  string(SUBSTRING ${word} 1 -1 rest)
  string(TOUPPER ${first} first)
  string(APPEND constant ${first} ${rest})
endforeach()
string(REGEX REPLACE "[^A-Za-z0-9]" "_" guard "OMNICX_${RELATIVE}_H_")
string(TOUPPER ${guard} guard)
file(WRITE ${HEADER}
"// Generated from ${RELATIVE} by cmake/EmbedText.cmake; edit that file.
#ifndef ${guard}
#define ${guard}

namespace ${NAMESPACE} {

inline constexpr char ${constant}[] = R\"${delimiter}(${text})${delimiter}\";

}  // namespace ${NAMESPACE}

#endif  // ${guard}
")
