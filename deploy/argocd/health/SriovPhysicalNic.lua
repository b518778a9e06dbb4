-- Healthy when the PF has the VFs spec.numVfs asks for (Sliced); Progressing while slicing;
-- Degraded when the NIC is gone, VFs were lost, or the change was refused or failed.
local sliced = condition(obj, "Sliced")
local waiting = pending(obj, sliced, "the node agent on " .. (obj.spec.nodeName or "its node"))
if waiting ~= nil then
  return waiting
end
local present = condition(obj, "Present")
if present ~= nil and present.status == "False" then
  return {status = "Degraded", message = said(present)}
end
local lost = condition(obj, "VFsLost")
if lost ~= nil and lost.status == "True" then
  return {status = "Degraded", message = said(lost)}
end
if sliced.status == "True" then
  return {status = "Healthy", message = said(sliced)}
end
if sliced.reason == "Slicing" then
  return {status = "Progressing", message = said(sliced)}
end
return {status = "Degraded", message = said(sliced)}
