"""The agent's checklist: observe -> plan -> apply -> conditions, for this node's objects only.

One pass (`Reconciler.run`) reads the host, compares it with the cached
SriovHost and SriovPhysicalNic objects, changes the host only where a spec
asks for it, and writes status only when it differs. Running it twice on an
unchanged host writes nothing; running it after a crash picks up where the
kernel is (sriov_numvfs is the state, not our memory), so it converges.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kvsriov.api.conditions import (
    Condition,
    ConditionStatus,
    HostConditionType,
    HostReason,
    NicConditionType,
    NicReason,
    find_condition,
    set_condition,
)
from kvsriov.api.host import SriovHostSpec, SriovHostStatus
from kvsriov.api.naming import nic_object_name
from kvsriov.api.nic import SriovPhysicalNicSpec, SriovPhysicalNicStatus
from kvsriov_agent import binding, guards, slicing
from kvsriov_agent.allocation import AllocationView, show_allocation, unallocated
from kvsriov_agent.discovery import observe_nic, physical_interfaces
from kvsriov_agent.host.bundle import Host
from kvsriov_agent.hostconfig import apply_kernel_args, apply_unsafe_interrupts
from kvsriov_agent.kube.client import ApiError, KubeClient, Obj, ResourcePath
from kvsriov_agent.kube.events import EventRecorder
from kvsriov_agent.objects import (
    HOSTS,
    NICS,
    host_status,
    new_host,
    new_nic,
    nic_status,
    not_own,
    status_patch,
)
from kvsriov_agent.podresources import PodResourcesClient, PodResourcesUnavailable
from kvsriov_agent.vffacts import VfFacts
from kvsriov_agent.vfreset import FreedVfs

if TYPE_CHECKING:
    from kvsriov_agent.deviceplugin.manager import DevicePlugins
    from kvsriov_agent.metrics import AgentMetrics

log = logging.getLogger(__name__)
SLICED = NicConditionType.SLICED
OWN_VERSIONS_MAX = 256


#: What a failed apply raises: the kernel refused, a VF did not bind, or a sysfs write failed.
APPLY_ERRORS = (slicing.SlicingError, binding.BindingError, OSError)


@dataclass(frozen=True)
class Refusal:
    """A change the rules refuse: the Sliced condition's reason and message."""

    reason: str
    message: str


#: No generation: a NIC whose change never failed (a generation may itself be None).
_NEVER = object()


class PassIncomplete(RuntimeError):
    """Some NICs failed in a pass whose other steps were done; the runtime retries it."""


@dataclass
class Reconciler:
    client: KubeClient
    host: Host
    node: str
    events: EventRecorder
    pod_resources: PodResourcesClient
    #: SriovHost spec.allowUnsafeInterrupts as of this pass (read by the vfio-pci guard).
    allow_unsafe: bool = False
    #: API writes (creates and status patches) made so far: logged per pass, so "no churn" is observable.
    writes: int = 0
    #: The kubelet device plugins (issue 6): told of every PF each pass; None when not serving them.
    plugins: DevicePlugins | None = None
    #: Prometheus counters (--metrics-port); None when not served.
    metrics: AgentMetrics | None = None
    #: Events of a finished change, recorded once its status is written: the status is what a user
    #: (or the operator) waits for, so no other round trip to the API server goes before it.
    _after_status: list[tuple[Obj, str, str, str]] = field(default_factory=list)
    #: resourceVersions of our own writes: their watch events need no pass (the runtime skips them).
    own_versions: set[str] = field(default_factory=set)
    _writer: ThreadPoolExecutor | None = None
    #: NIC name -> the spec generation whose change failed and was rolled back: not re-applied every
    #: pass (each try would destroy and re-create the VFs it restored), only once the spec changes.
    _rolled_back: dict[str, int | None] = field(default_factory=dict)
    #: VF PCI address -> what the kernel showed of it when this pass last read its PF (vffacts.py).
    _vf_facts: dict[str, VfFacts] = field(default_factory=dict)
    #: The SriovHost as this pass last read or wrote it (its status is re-written when a device
    #: plugin failed to serve during the NIC steps, so that it shows in this pass).
    _host_obj: Obj | None = None
    #: Who held which VF last pass and which resets failed: a VF the kubelet frees is reset (vfreset.py).
    freed_vfs: FreedVfs = field(default_factory=FreedVfs)
    #: A NIC change in the last pass waited for the kubelet's PodResources answer: the runtime asks
    #: again soon instead of at the next resync (a kubelet restart takes seconds, a resync minutes).
    waiting_for_kubelet: bool = False
    #: (uid, resourceVersion) of the objects not this node's that were reported (log and Event):
    #: once per version of each, not every pass.
    _reported_foreign: set[tuple[str, str]] = field(default_factory=set)

    # -- the checklist -------------------------------------------------------------------------

    def run(self, host_obj: Obj | None, nics: dict[str, Obj]) -> None:
        """0. NICs with a new spec  1. SriovHost  2. every other PF found  3. every object whose PF is gone.

        A new spec.numVfs is what a user waits for: its NIC goes first, against the SriovHost status
        the last pass wrote (when that pass saw the host's current spec), so its status is written
        before the host is probed and the other NICs are described. Objects that are not this
        node's (objects.not_own) are reported and left alone: none of them is adopted or written.
        """
        watched, nics = nics, self._own_nics(nics)
        interfaces = physical_interfaces(self.host.sysfs)
        self._vf_facts.clear()
        self.waiting_for_kubelet = False
        done: set[str] = set()
        known = _current_host_status(host_obj)
        if known is not None and host_obj is not None:
            spec = SriovHostSpec.model_validate(host_obj.get("spec") or {})
            self.allow_unsafe = spec.allow_unsafe_interrupts
            for name, obj in nics.items():
                ifname = obj.get("spec", {}).get("interface") or ""
                if _spec_pending(obj) and ifname in interfaces and name == nic_object_name(self.node, ifname):
                    self.reconcile_nic(obj, self._observe(ifname), nics, known)
                    done.add(name)
        host_status_now = self.reconcile_host(host_obj)
        names = set(done)
        failed: list[str] = []
        for ifname in interfaces:
            name = nic_object_name(self.node, ifname)
            names.add(name)
            if name in done or name in watched.keys() - nics.keys():  # done, or taken by another's object
                continue
            try:  # one NIC that fails (a sysfs read, an API write) does not stop the others
                status = self._observe(ifname)
                self.reconcile_nic(nics.get(name), status, nics, host_status_now)
            except Exception as err:
                expected = isinstance(err, ApiError | OSError)  # else a bug: keep its traceback
                log.warning("%s: %s; the other NICs go on", name, err, exc_info=not expected)
                failed.append(f"{name}: {err}")
        for name, obj in nics.items():
            if name not in names:
                self.mark_missing(obj)
        self._show_device_plugin_health(host_status_now)
        if failed:
            raise PassIncomplete("; ".join(failed))

    # -- SriovHost -----------------------------------------------------------------------------

    def reconcile_host(self, obj: Obj | None) -> SriovHostStatus:
        if obj is None:
            obj = self._create(HOSTS, new_host(self.node))
        spec = SriovHostSpec.model_validate(obj.get("spec") or {})
        self.allow_unsafe = spec.allow_unsafe_interrupts
        gen = obj["metadata"].get("generation")
        previous = host_status(obj)
        status = probe_with_config(self.host, spec, previous, gen)
        self._device_plugin_condition(status, gen)
        self._host_obj = obj
        if apply_unsafe_interrupts(self.host, spec, status, gen) and not _was_true(
            previous, HostConditionType.UNSAFE_INTERRUPTS_ALLOWED
        ):
            self.events.record(obj, "Warning", HostReason.UNSAFE_INTERRUPTS, _cond_msg(status))
        self._write_status(HOSTS, obj, status.to_api())
        return status

    def _device_plugin_condition(self, status: SriovHostStatus, gen: int | None) -> bool:
        """DevicePluginReady from the plugins' serving errors; True when it changed the status."""
        if self.plugins is None:
            return False
        errors = sorted(self.plugins.errors.values())
        wanted: tuple[ConditionStatus, HostReason, str]
        if errors:
            wanted = (
                "False", HostReason.DEVICE_PLUGIN_FAILED,
                f"{'; '.join(errors)}. VMs on this node get no VFs until this is fixed: check that "
                f"{self.plugins.paths.plugin_dir} is the kubelet's device-plugin directory, mounted "
                "read-write into the agent (the DaemonSet's hostPath). Slicing and reporting go on.",
            )  # fmt: skip
        else:
            wanted = (
                "True", HostReason.DEVICE_PLUGIN_SERVING,
                "The kubelet device plugin API is served for every SR-IOV PF of this node.",
            )  # fmt: skip
        found = find_condition(status.conditions, HostConditionType.DEVICE_PLUGIN_READY)
        if (
            found is not None
            and (found.status, found.reason, found.message) == wanted
            and (found.observed_generation == gen)
        ):
            return False
        cond = HostConditionType.DEVICE_PLUGIN_READY
        flag, reason, message = wanted  # not *wanted: mypy 2.4 counts it as more than three arguments
        status.conditions = set_condition(status.conditions, cond, flag, reason, message, gen)
        return True

    def _show_device_plugin_health(self, status: SriovHostStatus) -> None:
        """A plugin that could not serve during this pass's NIC steps shows now, not a pass later."""
        obj = self._host_obj
        if obj is not None and self._device_plugin_condition(status, obj["metadata"].get("generation")):
            self._write_status(HOSTS, obj, status.to_api())

    # -- SriovPhysicalNic ----------------------------------------------------------------------

    def reconcile_nic(
        self, obj: Obj | None, status: SriovPhysicalNicStatus, nics: dict[str, Obj], host: SriovHostStatus
    ) -> None:
        if obj is None:
            obj = self._create(NICS, new_nic(self.node, status))
            if not_own(obj, self.node) is not None:  # its name was taken by an object not ours (409)
                self._own_nics({obj["metadata"]["name"]: obj})
                return
        spec = SriovPhysicalNicSpec.model_validate(obj["spec"])
        gen = obj["metadata"].get("generation")
        previous = nic_status(obj)
        status.conditions = _merge_conditions(previous, status)
        name = obj["metadata"]["name"]
        differs = spec.num_vfs != status.num_vfs or bool(status.vfs and guards.drivers_differ(status, spec))
        if not differs:
            self._rolled_back.pop(name, None)
        if differs and self._rolled_back.get(name, _NEVER) == gen:
            pass  # this spec failed and was rolled back: its SlicingFailed condition stays until it changes
        elif differs:
            status = self.change(obj, spec, status, nics, host, gen)
        elif not _true_for(status.conditions, SLICED, gen):
            # As asked and already said so for this generation: the change's own message (which VMs a
            # forced change took VFs from) stays, and an unchanged host writes nothing.
            detail = f"{status.num_vfs} VFs on {spec.vf_driver}" if status.num_vfs else "not sliced (0 VFs)"
            status.conditions = set_condition(
                status.conditions, SLICED, "True", NicReason.AS_REQUESTED, detail, gen
            )
        self._vfs_lost(obj, status, previous, gen)
        view = (
            self.plugins.observe(status, self._vf_facts, spec)
            if self.plugins is not None
            else unallocated(status)
        )
        show_allocation(status, view)
        if self.plugins is not None:
            self._reset_freed(obj, status, view)
        status.observed_generation = gen
        self._write_status(NICS, obj, status.to_api())
        for event in self._after_status:
            self.events.record(*event)
        self._after_status.clear()

    def change(
        self,
        obj: Obj,
        spec: SriovPhysicalNicSpec,
        status: SriovPhysicalNicStatus,
        nics: dict[str, Obj],
        host: SriovHostStatus,
        gen: int | None,
    ) -> SriovPhysicalNicStatus:
        """Guard, plan, apply, outcome; every outcome is a condition. An apply that fails part-way
        is rolled back to what the PF had before (kubernetes-nmstate's probe-then-rollback): the
        kernel is probed and the previous count and VF driver restored, never left half-applied."""
        decided = self._guard(status, spec, nics, host)
        if isinstance(decided, Refusal):
            return self._refuse(obj, status, decided.reason, decided.message, gen)
        plan = decided
        slicing_written = self._show_slicing(obj, status, spec, plan, gen)
        try:
            self._apply(status, spec, plan)
            failure = None
        except APPLY_ERRORS as err:
            failure = err
        if slicing_written is not None:
            slicing_written.result()  # its ApiError or OSError fails the pass, as a write here would
        if failure is not None:
            return self._failed(obj, status, failure, gen)
        return self._outcome(obj, status, spec, plan, gen)

    def _guard(
        self,
        status: SriovPhysicalNicStatus,
        spec: SriovPhysicalNicSpec,
        nics: dict[str, Obj],
        host: SriovHostStatus,
    ) -> slicing.SlicePlan | Refusal:
        """The rules (bond, interrupt remapping, VFs in use), then the plan; or why not."""
        refusal = guards.bond_conflict(status, nics, spec.num_vfs) or (
            guards.interrupt_remapping_refusal(host, self.allow_unsafe, spec.vf_driver)
            if spec.num_vfs
            else None
        )
        if refusal:
            return Refusal(NicReason.REFUSED, refusal)
        try:
            # No VFs, none in use: that is a fact, not an assumption. Otherwise ask the kubelet.
            in_use = self._in_use(status) if status.vfs else {}
        except PodResourcesUnavailable as err:
            self.waiting_for_kubelet = True
            message = f"cannot tell which VFs are in use, so nothing is changed (fail closed): {err}"
            return Refusal(NicReason.POD_RESOURCES_UNAVAILABLE, message)
        plan = slicing.plan_numvfs(status.num_vfs, spec.num_vfs, status.total_vfs, in_use, spec.force)
        if plan.refused:
            reason = NicReason.IN_USE if in_use and not spec.force else NicReason.REFUSED
            return Refusal(reason, plan.refused)
        return plan

    def _show_slicing(
        self,
        obj: Obj,
        status: SriovPhysicalNicStatus,
        spec: SriovPhysicalNicSpec,
        plan: slicing.SlicePlan,
        gen: int | None,
    ) -> Future[bool] | None:
        """State Slicing, sent while the kernel works (its writes block in the kernel, not in Python):
        the round trip costs the user nothing. The caller joins it before writing anything else."""
        if not plan.steps:
            return None
        status.state = "Slicing"
        status.conditions = set_condition(
            status.conditions, SLICED, "False", NicReason.SLICING,
            f"changing {status.num_vfs} -> {spec.num_vfs} VFs (writes {plan.steps})", gen,
        )  # fmt: skip
        return self._status_writer().submit(self._write_status, NICS, obj, status.to_api())

    def _apply(
        self, status: SriovPhysicalNicStatus, spec: SriovPhysicalNicSpec, plan: slicing.SlicePlan
    ) -> None:
        pci = status.pci_address or ""
        began = time.monotonic()
        slicing.apply_numvfs(self.host, pci, plan.steps)
        sliced = time.monotonic()
        if spec.num_vfs:
            binding.bind_vfs(self.host, pci, spec.vf_driver)
        if self.metrics is not None:
            self.metrics.sliced(status.interface or "", time.monotonic() - began)
        log.info(
            "%s: %d -> %d VFs (writes %s) in %.2f s, binding to %s %.2f s",
            status.interface, status.num_vfs,
            spec.num_vfs, plan.steps, sliced - began, spec.vf_driver, time.monotonic() - sliced,
        )  # fmt: skip

    def _failed(
        self, obj: Obj, before: SriovPhysicalNicStatus, err: Exception, gen: int | None
    ) -> SriovPhysicalNicStatus:
        """Roll back, then say what failed and where the PF is now (condition and Event)."""
        message = f"{err}; {self._roll_back(before)}"
        self._rolled_back[obj["metadata"]["name"]] = gen
        log.warning("%s: %s", before.interface, message)
        fresh = self._describe(before, gen)
        self.events.record(obj, "Warning", NicReason.SLICING_FAILED, message)
        fresh.conditions = set_condition(
            fresh.conditions, SLICED, "False", NicReason.SLICING_FAILED, message, gen
        )
        return fresh

    def _roll_back(self, before: SriovPhysicalNicStatus) -> str:
        """Probe the kernel and restore the count and VF driver `before` showed; says what it did."""
        pci, good = before.pci_address or "", before.num_vfs
        driver: binding.VfDriver = (
            binding.VFIO_PCI
            if before.vfs and all(vf.driver == binding.VFIO_PCI for vf in before.vfs)
            else "netdevice"
        )
        try:
            now = slicing.current_numvfs(self.host.sysfs, pci)
            slicing.apply_numvfs(self.host, pci, slicing.numvfs_steps(now, good))
            if good:
                binding.bind_vfs(self.host, pci, driver)
        except APPLY_ERRORS as err:
            left = slicing.current_numvfs(self.host.sysfs, pci)
            return f"rolling back to the previous {good} VFs failed too ({err}): the PF has {left} VFs now"
        kept = "kept" if now == good else "rolled back to"
        on = f" on {driver}" if good else ""
        retry = (
            "not tried again for this spec: change spec.numVfs or spec.vfDriver (or restart the node agent)"
        )
        return f"{kept} the previous {good} VFs{on}; {retry}"

    def _outcome(
        self,
        obj: Obj,
        before: SriovPhysicalNicStatus,
        spec: SriovPhysicalNicSpec,
        plan: slicing.SlicePlan,
        gen: int | None,
    ) -> SriovPhysicalNicStatus:
        """The PF as the kernel now has it, Sliced True, and the Event to record after the status."""
        fresh = self._describe(before, gen)
        message = f"{fresh.num_vfs} VFs on {spec.vf_driver}" if fresh.num_vfs else "restored (0 VFs)"
        if plan.lost:
            who = ", ".join(f"VF {i} ({owner})" for i, owner in plan.lost.items())
            message += f"; forced: these lost their NIC: {who}"
            forced = f"spec.force removed VFs in use: {who}"
            self._after_status.append((obj, "Warning", NicReason.FORCED_VFS_REMOVED, forced))
        else:
            self._after_status.append((obj, "Normal", NicReason.SLICED, message))
        fresh.conditions = set_condition(fresh.conditions, SLICED, "True", NicReason.SLICED, message, gen)
        return fresh

    def mark_missing(self, obj: Obj) -> None:
        """The PF vanished (unplugged, renamed, driver gone): say so, keep the object (users own spec)."""
        status = nic_status(obj) or SriovPhysicalNicStatus(node_name=self.node)
        ifname = obj["spec"].get("interface")
        if self.plugins is not None and ifname:
            self.plugins.missing(ifname)
        status.state = "Missing"
        status.conditions = set_condition(
            status.conditions, NicConditionType.PRESENT, "False", NicReason.NOT_FOUND,
            f"{ifname} is no longer found on node {self.node} (removed, renamed or its driver is gone); "
            "delete this object if the NIC is gone for good.", obj["metadata"].get("generation"),
        )  # fmt: skip
        if self._write_status(NICS, obj, status.to_api()):
            self.events.record(
                obj, "Warning", NicReason.NIC_MISSING, f"{ifname} is no longer found on {self.node}"
            )

    # -- helpers -------------------------------------------------------------------------------

    def _own_nics(self, nics: dict[str, Obj]) -> dict[str, Obj]:
        """The NIC objects that are this node's; each other one is reported once per version."""
        own = {}
        for name, obj in nics.items():
            why = not_own(obj, self.node)
            if why is None:
                own[name] = obj
                continue
            meta = obj.get("metadata") or {}
            version = (str(meta.get("uid", name)), str(meta.get("resourceVersion", "")))
            if version not in self._reported_foreign:
                self._reported_foreign.add(version)
                log.warning("%s", why)
                self.events.record(obj, "Warning", NicReason.NOT_OWN_NODE, why)
        return own

    def _refuse(
        self, obj: Obj, status: SriovPhysicalNicStatus, reason: str, message: str, gen: int | None
    ) -> SriovPhysicalNicStatus:
        previous = find_condition(status.conditions, SLICED)
        if previous is None or previous.reason != reason or previous.message != message:
            self.events.record(obj, "Warning", reason, message)
        status.conditions = set_condition(status.conditions, SLICED, "False", reason, message, gen)
        return status

    def _vfs_lost(
        self,
        obj: Obj,
        status: SriovPhysicalNicStatus,
        previous: SriovPhysicalNicStatus | None,
        gen: int | None,
    ) -> None:
        lost = [vf.pci_address for vf in status.vfs if vf.health == "Lost"]
        cond = NicConditionType.VFS_LOST
        if lost:
            message = (
                f"the PF driver of {status.interface} is unbound while {len(lost)} VFs exist: they are lost "
                f"({', '.join(lost)}); rebind the PF driver or restore with spec.numVfs: 0"
            )
            if not _was_true(previous, cond):
                self.events.record(obj, "Warning", NicReason.VFS_LOST, message)
            status.conditions = set_condition(
                status.conditions, cond, "True", NicReason.PF_DRIVER_UNBOUND, message, gen
            )
        elif previous is not None and find_condition(previous.conditions, cond) is not None:
            status.conditions = set_condition(
                status.conditions, cond, "False", NicReason.PF_DRIVER_BOUND, "", gen
            )

    def _reset_freed(self, obj: Obj, status: SriovPhysicalNicStatus, view: AllocationView) -> None:
        """VFs the kubelet freed get their sliced state back (vfreset.py: sriov-cni's DEL does not
        do it for vfio-pci VFs); the status shows them as they are now, an Event says what happened."""
        ifname = status.interface or ""
        pcis = {vf.index: vf.pci_address for vf in status.vfs}
        outcomes = self.freed_vfs.step(self.host.netlink, ifname, view, pcis)
        if not outcomes:
            return
        now = {vf.index: vf for vf in self.host.netlink.vfs(ifname)}
        for vf in status.vfs:
            if (info := now.get(vf.index)) is not None:
                vf.mac, vf.vlan = info.mac, info.vlan
        for outcome in outcomes:
            message = outcome.message()
            if outcome.failed:
                log.warning("%s: %s", ifname, message)
                self._after_status.append((obj, "Warning", NicReason.VF_RESET_FAILED, message))
            else:
                log.info("%s: %s", ifname, message)
                self._after_status.append((obj, "Normal", NicReason.VF_RESET, message))

    def _observe(self, ifname: str) -> SriovPhysicalNicStatus:
        """The PF as the kernel shows it now; its VFs' facts are kept for the device plugin."""
        observed = observe_nic(self.host, self.node, ifname)
        self._vf_facts.update(observed.vfs)
        return observed.status

    def _in_use(self, status: SriovPhysicalNicStatus) -> dict[int, str]:
        return guards.vfs_in_use(status, self.pod_resources)

    def _describe(self, before: SriovPhysicalNicStatus, gen: int | None) -> SriovPhysicalNicStatus:
        fresh = self._observe(before.interface or "")
        fresh.conditions = _merge_conditions(before, fresh)
        fresh.observed_generation = gen
        return fresh

    def _create(self, res: ResourcePath, body: Obj) -> Obj:
        try:
            created = self.client.create(res, body)
            self.writes += 1
            self._own(created)
            log.info("created %s/%s", res.plural, body["metadata"]["name"])
            return created
        except ApiError as err:
            if err.status != 409:  # 409: it exists; our cache had not seen it yet
                raise
            return self.client.get(res, body["metadata"]["name"])

    def _status_writer(self) -> ThreadPoolExecutor:
        """One thread (so one kept-alive API connection) for the status written while the kernel works."""
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="status-writer")
        return self._writer

    def _own(self, written: Obj) -> None:
        if len(self.own_versions) > OWN_VERSIONS_MAX:  # echoes that raced their response: never seen
            self.own_versions.clear()
        version = written.get("metadata", {}).get("resourceVersion")
        if version:
            self.own_versions.add(str(version))

    def _write_status(self, res: ResourcePath, obj: Obj, new: dict[str, object]) -> bool:
        patch = status_patch(obj.get("status"), new)
        if patch is None:
            return False
        updated = self.client.patch_status(res, obj["metadata"]["name"], patch)
        self.writes += 1
        self._own(updated)
        obj.update(updated)  # later steps of this pass see the written status
        return True


def probe_with_config(
    host: Host, spec: SriovHostSpec, previous: SriovHostStatus | None, gen: int | None
) -> SriovHostStatus:
    from kvsriov_agent.probe import probe_host

    status = probe_host(host, spec, previous, gen)
    apply_kernel_args(host, spec, status, gen)
    return status


def _current_host_status(obj: Obj | None) -> SriovHostStatus | None:
    """The SriovHost status a pass wrote for the host's current spec generation, else None."""
    if obj is None:
        return None
    status = host_status(obj)
    if status is None or status.observed_generation != obj["metadata"].get("generation"):
        return None
    return status


def _spec_pending(obj: Obj) -> bool:
    """A spec generation the agent has not yet answered in status."""
    return (obj.get("status") or {}).get("observedGeneration") != obj["metadata"].get("generation")


def _merge_conditions(
    previous: SriovPhysicalNicStatus | None, fresh: SriovPhysicalNicStatus
) -> list[Condition]:
    """Discovery sets Present afresh; carry the other conditions (and their transition times) over."""
    conditions = list(previous.conditions) if previous else []
    for cond in fresh.conditions:
        conditions = set_condition(
            conditions, cond.type, cond.status, cond.reason, cond.message, cond.observed_generation
        )
    return conditions


def _true_for(conditions: list[Condition], type_: str, gen: int | None) -> bool:
    found = find_condition(conditions, type_)
    return found is not None and found.status == "True" and found.observed_generation == gen


def _was_true(previous: SriovHostStatus | SriovPhysicalNicStatus | None, type_: str) -> bool:
    if previous is None:
        return False
    found = find_condition(previous.conditions, type_)
    return found is not None and found.status == "True"


def _cond_msg(status: SriovHostStatus) -> str:
    found = find_condition(status.conditions, HostConditionType.UNSAFE_INTERRUPTS_ALLOWED)
    return found.message if found else ""
