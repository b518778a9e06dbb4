-- Healthy when its NetworkAttachmentDefinitions are rendered (Ready); Degraded when the
-- operator refused it (missing L2 network, overlapping ranges, ...), with the reason.
local ready = condition(obj, "Ready")
local waiting = pending(obj, ready, "the kvsriov operator")
if waiting ~= nil then
  return waiting
end
if ready.status == "True" then
  return {status = "Healthy", message = said(ready)}
end
return {status = "Degraded", message = said(ready)}
