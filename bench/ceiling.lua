-- wrk script: a 1.2 KB JSON body POSTed with keep-alive (the machine's HTTP ceiling).
local body = '{"type":"user.updated","regulation":"gdpr","parameters":{"entity":{"id":"' ..
    string.rep("x", 1100) .. '"}}}'
request = function()
  return wrk.format("POST", "/", {["Content-Type"] = "application/json"}, body)
end
