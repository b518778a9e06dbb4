-- Healthy when the node's IOMMU is ready for VFIO (Ready); Suspended while a reboot is
-- awaited for kernel arguments the agent wrote; Degraded otherwise, with what to do.
local ready = condition(obj, "Ready")
local waiting = pending(obj, ready, "the node agent on " .. obj.metadata.name)
if waiting ~= nil then
  return waiting
end
if ready.status == "True" then
  return {status = "Healthy", message = said(ready)}
end
if obj.status.rebootRequired then
  return {status = "Suspended", message = "Reboot the node to apply its kernel arguments; " .. said(ready)}
end
return {status = "Degraded", message = said(ready)}
