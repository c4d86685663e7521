"""Charging in Redis: one Lua script records a tracking event once and charges it within every cap.

The script runs atomically, so under any concurrency an advertiser is never charged above a daily
or lifetime budget (ad group or campaign) nor above its spendable money: a charge that would
cross a cap is refused and the event is recorded as unbilled. Every event goes to the stream the
consumer copies into PostgreSQL, in the same script, so an event is charged if and only if it
is recorded.

Keys carry the advertiser as a hash tag ({a42}) so one advertiser's keys share a Redis Cluster slot.
"""

from dataclasses import dataclass

from redis import Redis

STREAM = "delivery:events"
EXHAUSTED = "delivery:exhausted"  # zset: "ag:<id>" / "c:<id>" / "a:<id>" scored by when to look again
DAY_COUNTER_TTL = 3 * 86_400
DEDUPE_TTL = 25 * 3600  # links live 24 h

CHARGE_SCRIPT = """
-- KEYS: 1 dedupe, 2 ag day, 3 ag life, 4 campaign day, 5 campaign life, 6 advertiser charged,
--       7 advertiser allowance, 8 frequency counter, 9 stream, 10 exhausted zset,
--       11 must-exist key (the impression, for a click), 12 burst counter, 13 reach sketch of the ad group's day
-- ARGV: 1 dedupe ttl, 2 price, 3 ag daily cap, 4 ag life cap, 5 c daily cap, 6 c life cap,
--       7 frequency ttl (0: do not count), 8 day counter ttl, 9 day ends at (unix), 10 now (unix),
--       11 require key (1/0), 12 burst limit (0: none), 13 invalid reason given by the caller ("" if none),
--       14 ag id, 15 campaign id, 16 advertiser id, 17 the person to count in the reach sketch ("" for none),
--       18.. event fields (name, value, ...)
local function emit(status, cost, reason)
  local fields = {}
  for i = 18, #ARGV do fields[#fields + 1] = ARGV[i] end
  fields[#fields + 1] = 'status'; fields[#fields + 1] = status
  fields[#fields + 1] = 'cost'; fields[#fields + 1] = tostring(cost)
  fields[#fields + 1] = 'reason'; fields[#fields + 1] = reason
  redis.call('XADD', KEYS[9], '*', unpack(fields))
  return {status, cost, reason}
end

if ARGV[13] ~= '' then  -- a bot or an expired link: recorded, and it does not use up the real event's turn
  return emit('invalid', 0, ARGV[13])
end
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) == false then
  return emit('invalid', 0, 'duplicate')
end
if ARGV[11] == '1' and redis.call('EXISTS', KEYS[11]) == 0 then
  return emit('invalid', 0, 'no_impression')
end
if tonumber(ARGV[12]) > 0 then
  local burst = redis.call('INCR', KEYS[12])
  if burst == 1 then redis.call('EXPIRE', KEYS[12], 60) end
  if burst > tonumber(ARGV[12]) then return emit('invalid', 0, 'click_burst') end
end
if tonumber(ARGV[7]) > 0 then
  if redis.call('INCR', KEYS[8]) == 1 then redis.call('EXPIRE', KEYS[8], tonumber(ARGV[7])) end
end
if ARGV[17] ~= '' then  -- shown to a person, billed or not: reach (HyperLogLog, ~0.8% standard error)
  if redis.call('PFADD', KEYS[13], ARGV[17]) == 1 then redis.call('EXPIRE', KEYS[13], tonumber(ARGV[8])) end
end

local price = tonumber(ARGV[2])
if price <= 0 then return emit('valid', 0, '') end

local day_ends, now = tonumber(ARGV[9]), tonumber(ARGV[10])
local checks = {
  {KEYS[2], tonumber(ARGV[3]), 'ag_daily_budget', 'ag:' .. ARGV[14], day_ends},
  {KEYS[3], tonumber(ARGV[4]), 'ag_lifetime_budget', 'ag:' .. ARGV[14], now + 86400 * 3650},
  {KEYS[4], tonumber(ARGV[5]), 'campaign_daily_budget', 'c:' .. ARGV[15], day_ends},
  {KEYS[5], tonumber(ARGV[6]), 'campaign_lifetime_budget', 'c:' .. ARGV[15], now + 86400 * 3650},
}
for _, check in ipairs(checks) do
  if check[2] > 0 then
    local spent = tonumber(redis.call('GET', check[1]) or '0')
    if spent + price > check[2] then
      redis.call('ZADD', KEYS[10], check[5], check[4])
      return emit('unbilled', 0, check[3])
    end
  end
end
local charged = tonumber(redis.call('GET', KEYS[6]) or '0')
local allowance = tonumber(redis.call('GET', KEYS[7]) or '0')
if charged + price > allowance then
  redis.call('ZADD', KEYS[10], now + 3600, 'a:' .. ARGV[16])
  return emit('unbilled', 0, 'no_balance')
end

for i, check in ipairs(checks) do
  local total = redis.call('INCRBY', check[1], price)
  if i % 2 == 1 then redis.call('EXPIRE', check[1], tonumber(ARGV[8])) end
  if check[2] > 0 and total + price > check[2] then
    redis.call('ZADD', KEYS[10], check[5], check[4])  -- another one at this price would not fit
  end
end
redis.call('INCRBY', KEYS[6], price)
return emit('valid', price, '')
"""


@dataclass(frozen=True, slots=True)
class Caps:
    ad_group_daily: int
    ad_group_lifetime: int
    campaign_daily: int
    campaign_lifetime: int


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # valid | invalid | unbilled
    cost_micros: int
    reason: str


def tag(advertiser_id: int) -> str:
    return f"{{a{advertiser_id}}}"


def ad_group_day_key(advertiser_id: int, ad_group_id: int, day: str) -> str:
    return f"{tag(advertiser_id)}:ag:{ad_group_id}:d:{day}"


def ad_group_life_key(advertiser_id: int, ad_group_id: int) -> str:
    return f"{tag(advertiser_id)}:ag:{ad_group_id}:life"


def campaign_day_key(advertiser_id: int, campaign_id: int, day: str) -> str:
    return f"{tag(advertiser_id)}:c:{campaign_id}:d:{day}"


def campaign_life_key(advertiser_id: int, campaign_id: int) -> str:
    return f"{tag(advertiser_id)}:c:{campaign_id}:life"


def charged_key(advertiser_id: int) -> str:
    """Everything ever charged to the advertiser in Redis (monotonic)."""
    return f"{tag(advertiser_id)}:charged"


def allowance_key(advertiser_id: int) -> str:
    """Spendable money plus all spend already posted to the ledger: charged may grow up to it."""
    return f"{tag(advertiser_id)}:allowance"


def frequency_key(advertiser_id: int, ad_group_id: int, user_key: str) -> str:
    return f"{tag(advertiser_id)}:f:{ad_group_id}:{user_key}"


def seen_key(advertiser_id: int, kind: str, request_id: str, ad_id: int) -> str:
    return f"{tag(advertiser_id)}:seen:{kind}:{request_id}:{ad_id}"


def burst_key(advertiser_id: int, user_key: str) -> str:
    return f"{tag(advertiser_id)}:burst:{user_key}"


def reach_key(advertiser_id: int, ad_group_id: int, day: str) -> str:
    """The HyperLogLog of the people an ad group reached on one of the advertiser's local days."""
    return f"{tag(advertiser_id)}:reach:{ad_group_id}:{day}"


class Charger:
    """Runs the charge script; one round trip per tracking event."""

    def __init__(self, client: Redis) -> None:
        self.client = client
        self.script = client.register_script(CHARGE_SCRIPT)

    def record(
        self,
        *,
        kind: str,
        advertiser_id: int,
        ad_group_id: int,
        campaign_id: int,
        request_id: str,
        ad_id: int,
        day: str,
        day_ends_at: int,
        now: int,
        price_micros: int,
        caps: Caps,
        frequency_key_ttl: int,
        user_key: str,
        fields: dict[str, str | int],
        invalid_reason: str = "",
        burst_limit: int = 0,
    ) -> Outcome:
        """Record one impression ("i") or click ("c") and charge `price_micros` if every cap allows."""
        keys = [
            seen_key(advertiser_id, kind, request_id, ad_id),
            ad_group_day_key(advertiser_id, ad_group_id, day),
            ad_group_life_key(advertiser_id, ad_group_id),
            campaign_day_key(advertiser_id, campaign_id, day),
            campaign_life_key(advertiser_id, campaign_id),
            charged_key(advertiser_id),
            allowance_key(advertiser_id),
            frequency_key(advertiser_id, ad_group_id, user_key),
            STREAM,
            EXHAUSTED,
            seen_key(advertiser_id, "i", request_id, ad_id),
            burst_key(advertiser_id, user_key),
            reach_key(advertiser_id, ad_group_id, day),
        ]
        args: list[str | int] = [
            DEDUPE_TTL,
            price_micros,
            caps.ad_group_daily,
            caps.ad_group_lifetime,
            caps.campaign_daily,
            caps.campaign_lifetime,
            frequency_key_ttl,
            DAY_COUNTER_TTL,
            day_ends_at,
            now,
            1 if kind == "c" else 0,
            burst_limit,
            invalid_reason,
            ad_group_id,
            campaign_id,
            advertiser_id,
            user_key if kind == "i" else "",
        ]
        for name, value in fields.items():
            args.extend((name, value))
        status, cost, reason = self.script(keys=keys, args=args)
        return Outcome(_text(status), int(cost), _text(reason))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
