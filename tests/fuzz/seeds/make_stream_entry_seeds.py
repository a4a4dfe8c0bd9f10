# Writes the stream_entry_fuzzer seeds (its input format: see the fuzzer).
# Run from the repository root: python3 tests/fuzz/seeds/make_stream_entry_seeds.py
import subprocess, struct, sys
S = 'tests/fuzz/seeds/stream_entry'
NAMES = ["e", "survivor", "merged", "at", "d", "x", "stream", "id",
         "deliveries", "error", "reason", "detail", "group"]
def enc(msg, proto, text):
    return subprocess.run(['protoc', '-Iprotos', '-I/usr/include', '--encode=' + msg, proto],
                          input=text.encode(), capture_output=True, check=True).stdout
def s(b):
    if isinstance(b, str): b = b.encode()
    if len(b) < 255: return bytes([len(b)]) + b
    return bytes([255, len(b) >> 8, len(b) & 255]) + b
def entry(eid, fields):
    out = bytes([len(fields)])
    for name, value in fields:
        out += bytes([NAMES.index(name)]) + s(value)
    return out + s(eid)
def read(stream, entries):
    # mode 0 (shaped), one stream, len(entries) entries.
    return bytes([0, 0, len(entries) - 1]) + b''.join(entries) + s(stream)
event = enc('omnicx.v1.Interaction', 'omnicx/v1/common.proto', '''
event_id: "evt-1" customer { customer_id: "c-1" } resolved_customer_id: "c-1"
channel: CHANNEL_VOICE type: "support_contact" occurred_at { seconds: 1794999000 }
touchpoint: "ivr_billing" case_id: "case-9" outcome: OUTCOME_FAILURE sentiment: -0.6
feedback { nps: 2 csat: 1 ces: 6 } wait { seconds: 900 }''')
purchase = enc('omnicx.v1.Interaction', 'omnicx/v1/common.proto', '''
event_id: "evt-2" customer { anonymous_id: "a-1" } resolved_customer_id: "c-2"
channel: CHANNEL_WEB type: "purchase" occurred_at { seconds: 1794999500 } value: 129.99''')
delta = enc('omnicx.journey.v1.AggregateDelta', 'omnicx/journey/v1/state.proto', '''
pain { key: "2\\x1f3|support_contact|ivr_billing\\x1fa" value: 1 }
funnel { key: "2026-12-05|1>2" value: 1 }''')
example = enc('omnicx.journey.v1.ChurnExample', 'omnicx/journey/v1/state.proto', '''
prior_logit: -1.5 features { key: "n:t:ivr_billing" value: 0.8 } churned: true''')
seeds = {
  'events': read('cx:default:{rv:3}:stream', [entry('1794999000000-0', [('e', event)]),
                                              entry('1794999000001-0', [('e', purchase)])]),
  'merge': read('cx:default:merges', [entry('1-0', [('survivor', 'c-1'), ('merged', 'c-2'), ('at', '1794999000000')])]),
  'outbox': read('{p:7}:outbox', [entry('2-0', [('d', delta)])]),
  'examples': read('{p:7}:examples', [entry('3-0', [('x', example)])]),
  'dead_letter': read('cx:default:dlq:rjourney', [entry('4-0', [
      ('stream', 'cx:default:{rv:3}:stream'), ('id', '1794999000000-0'), ('group', 'journey'),
      ('deliveries', '5'), ('error', 'DATA_LOSS'), ('e', event)])]),
}
for name, data in seeds.items():
    open(f'{S}/{name}.bin', 'wb').write(data)
