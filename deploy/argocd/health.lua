-- Argo CD health check for toolhive's VirtualMCPServer (toolhive.stacklok.dev/v1beta1) as
-- vmcp-status writes its status (docs/status-model.md#conditions). Install it in argocd-cm under
-- resource.customizations.health.toolhive.stacklok.dev_VirtualMCPServer (deploy/README.md).
-- Tested by deploy/test/argocd.test.ts with Debian's lua5.4.
--
--   no status yet                               -> Progressing
--   Stalled=True or phase Failed                -> Degraded (no routable backends)
--   Degraded=True or phase Degraded             -> Degraded (serving, some backends down)
--   Ready=True                                  -> Healthy
--   Ready=False reason ShuttingDown             -> Suspended (stopped on purpose, not failing)
--   anything else (Starting, Reconciling=True)  -> Progressing
--
-- Degraded is checked before Ready: in `runtime` mode beside toolhive's operator, the operator
-- owns Ready (it may say True) while vmcp-status owns Degraded.
local function condition(kind)
  for _, c in ipairs((obj.status or {}).conditions or {}) do
    if c.type == kind then return c end
  end
  return nil
end
local function isTrue(c) return c ~= nil and c.status == "True" end
-- The message of the condition that decided (ours in both ownership modes), else the object's.
local function messageOf(c)
  if c ~= nil and c.message ~= nil and c.message ~= "" then return c.message end
  return obj.status.message or ""
end

if obj.status == nil then
  return { status = "Progressing", message = "Waiting for the first status" }
end
local ready, degraded, stalled = condition("Ready"), condition("Degraded"), condition("Stalled")
if isTrue(stalled) or obj.status.phase == "Failed" then
  return { status = "Degraded", message = messageOf(isTrue(stalled) and stalled or nil) }
end
if isTrue(degraded) or obj.status.phase == "Degraded" then
  return { status = "Degraded", message = messageOf(isTrue(degraded) and degraded or nil) }
end
if isTrue(ready) then
  return { status = "Healthy", message = messageOf(ready) }
end
if ready ~= nil and ready.reason == "ShuttingDown" then
  return { status = "Suspended", message = "Shutting down" }
end
local message = messageOf(ready)
if message == "" then message = "Waiting for the first status" end
return { status = "Progressing", message = message }
