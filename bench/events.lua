-- wrk script: consent events with varied, realistic bodies. Many users (some repeat, so
-- user.updated fires), 5 to 20 purposes, vendors, a TCF string. TOKEN and ORG come from the
-- environment.
-- ORGS=N spreads the events over organizations bench-1 .. bench-N (one token acts for all).
-- RATE=R (events/s over all connections, CONNECTIONS=C) paces each connection instead of
-- flooding: the half-load latency phase.
-- BATCH=N sends arrays of N events (Didomi's batch import) instead of one event per request.
local token = os.getenv("TOKEN")
local org = os.getenv("ORG") or "bench"
local orgs = tonumber(os.getenv("ORGS") or "0")
local rate = tonumber(os.getenv("RATE") or "0")
local connections = tonumber(os.getenv("CONNECTIONS") or "1")
local batch = tonumber(os.getenv("BATCH") or "0")
local counter = 0
math.randomseed(os.time())

if rate > 0 then
  delay = function()
    -- Exponential gaps (a Poisson arrival process) averaging connections / rate seconds.
    return math.floor(-math.log(1 - math.random()) * connections * 1000 / rate)
  end
end

local function purposes(n, flip)
  local parts = {}
  for i = 1, n do
    local enabled = ((i + flip) % 3 == 0) and "false" or "true"
    parts[#parts + 1] = '{"id":"purpose_' .. i .. '","enabled":' .. enabled .. '}'
  end
  return table.concat(parts, ",")
end

local function event()
  counter = counter + 1
  local user = math.random(1, 200000)
  if counter % 4 == 0 then user = math.random(1, 500) end  -- repeat users
  return '{"user":{"organization_user_id":"user-' .. user .. '"},"consents":{"purposes":[' ..
      purposes(5 + (counter % 16), counter) ..
      '],"vendors":{"enabled":["google","facebook","criteo","appnexus"],"disabled":["vendor-' ..
      (counter % 50) .. '"]},"tcfcs":"CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"},' ..
      '"metadata":{"source":"bench","page":"/checkout"}}'
end

request = function()
  local body
  if batch > 0 then
    local events = {}
    for i = 1, batch do events[i] = event() end
    body = "[" .. table.concat(events, ",") .. "]"
  else
    body = event()
  end
  local target = org
  if orgs > 0 then target = "bench-" .. math.random(1, orgs) end
  return wrk.format("POST", "/v1/consents/events?organization_id=" .. target,
                    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token},
                    body)
end
