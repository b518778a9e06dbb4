-- Shared by the four health checks; `kvsriov argocd generate` puts it in front of each one,
-- since Argo CD runs every script on its own (Lua 5.1, no require).

local function condition(obj, kind)
  if obj.status ~= nil and obj.status.conditions ~= nil then
    for _, c in ipairs(obj.status.conditions) do
      if c.type == kind then
        return c
      end
    end
  end
  return nil
end

-- Progressing while the writer of status (the node agent or the operator) has not yet
-- described the current spec generation; nil when it has.
local function pending(obj, c, writer)
  if c == nil then
    return {status = "Progressing", message = "Waiting for " .. writer .. " to report"}
  end
  local generation = obj.metadata.generation
  if generation ~= nil and c.observedGeneration ~= nil and c.observedGeneration < generation then
    return {status = "Progressing", message = "Waiting for " .. writer .. " to act on generation " .. generation}
  end
  return nil
end

local function said(c)
  if c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  return c.reason
end
