-- Healthy when SR-IOV is effective on every selected node, or switched off on purpose;
-- Degraded when the spec was refused or some selected nodes have no VFs (the message names them).
local ready = condition(obj, "Ready")
local waiting = pending(obj, ready, "the kvsriov operator")
if waiting ~= nil then
  return waiting
end
if ready.status ~= "True" then
  return {status = "Degraded", message = said(ready)}
end
local effective = condition(obj, "SriovEffective")
if effective == nil or effective.status == "True" or effective.reason == "SriovDisabled" then
  return {status = "Healthy", message = said(effective or ready)}
end
return {status = "Degraded", message = said(effective)}
