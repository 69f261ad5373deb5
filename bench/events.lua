-- wrk script: consent events with varied, realistic bodies. Many users (some repeat, so
-- user.updated fires), 5 to 20 purposes, vendors, a TCF string. TOKEN and ORG come from the
-- environment.
local token = os.getenv("TOKEN")
local org = os.getenv("ORG") or "bench"
local counter = 0
math.randomseed(os.time())

local function purposes(n, flip)
  local parts = {}
  for i = 1, n do
    local enabled = ((i + flip) % 3 == 0) and "false" or "true"
    parts[#parts + 1] = '{"id":"purpose_' .. i .. '","enabled":' .. enabled .. '}'
  end
  return table.concat(parts, ",")
end

request = function()
  counter = counter + 1
  local user = math.random(1, 200000)
  if counter % 4 == 0 then user = math.random(1, 500) end  -- repeat users
  local body = '{"user":{"organization_user_id":"user-' .. user .. '"},"consents":{"purposes":[' ..
      purposes(5 + (counter % 16), counter) ..
      '],"vendors":{"enabled":["google","facebook","criteo","appnexus"],"disabled":["vendor-' ..
      (counter % 50) .. '"]},"tcfcs":"CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"},' ..
      '"metadata":{"source":"bench","page":"/checkout"}}'
  return wrk.format("POST", "/v1/consents/events?organization_id=" .. org,
                    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token},
                    body)
end
