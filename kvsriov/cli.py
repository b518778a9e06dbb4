"""The `kvsriov` command: one entry point for users, the image and CI."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from kvsriov import paths


def _crds(args: argparse.Namespace) -> int:
    from kvsriov import crdgen

    # --dir: one plain directory; otherwise crds/ and the copies in deploy/ (kustomize, Helm).
    targets = (
        [(Path(args.dir), False)]
        if args.dir
        else [(paths.crds_dir(), False), (paths.kustomize_crds_dir(), True), (paths.helm_crds_dir(), False)]
    )
    if args.check:
        stale = False
        for directory, kustomize in targets:
            diffs = crdgen.stale(directory, kustomize)
            if diffs:
                sys.stdout.write("".join(diffs))
                print(
                    f"\n{directory} is stale: run `kvsriov crds generate` and commit the result.",
                    file=sys.stderr,
                )
                stale = True
            else:
                print(f"{directory} is current ({len(crdgen.rendered())} CRDs).")
        return 1 if stale else 0
    for directory, kustomize in targets:
        written = crdgen.write(directory, kustomize)
        for path in written:
            print(f"wrote {path}")
        if not written:
            print(f"{directory} already current.")
    return 0


def _generated(
    check: bool, what: Path, command: str, stale: Callable[[], list[str]], write: Callable[[], list[Path]]
) -> int:
    """The --check / write protocol shared by the generated files other than the CRDs."""
    if check:
        if diffs := stale():
            sys.stdout.write("".join(diffs))
            print(f"\n{what} is stale: run `{command}` and commit the result.", file=sys.stderr)
            return 1
        print(f"{what} is current.")
        return 0
    written = write()
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"{what} already current.")
    return 0


def _protos(args: argparse.Namespace) -> int:
    from kvsriov import protogen

    return _generated(
        args.check, protogen.PROTO_DIR, "kvsriov protos generate", protogen.stale, protogen.write
    )


def _argocd(args: argparse.Namespace) -> int:
    from kvsriov import argocdgen

    return _generated(
        args.check, argocdgen.OUTPUT, "kvsriov argocd generate", argocdgen.stale, argocdgen.write
    )


def _apiserver(args: argparse.Namespace) -> int:
    from kvsriov.sandbox.apiserver.server import serve

    crd_dirs = [Path(d) for d in args.crds] if args.crds else [paths.crds_dir()]
    serve(
        port=args.port,
        kubeconfig_out=Path(args.kubeconfig_out) if args.kubeconfig_out else None,
        crd_dirs=crd_dirs,
    )
    return 0


def _agent(argv: list[str]) -> int:
    from kvsriov_agent.cli import main as agent_main

    return agent_main(argv)


def _doctor(argv: list[str]) -> int:
    if "--cluster" in argv:
        from kvsriov.clusterdoctor import main as cluster_doctor_main

        return cluster_doctor_main(argv)
    from kvsriov_agent.doctor import main as doctor_main

    return doctor_main(argv)


def _vm(argv: list[str]) -> int:
    from kvsriov.vmcli import main as vm_main

    return vm_main(argv, prog="kvsriov vm")


def _operator(argv: list[str]) -> int:
    from kvsriov_operator.cli import main as operator_main

    return operator_main(argv)


def _demo(args: argparse.Namespace) -> int:
    from kvsriov.sandbox.demo import run

    return run(keep=args.keep)


def _simhost(args: argparse.Namespace) -> int:
    from kvsriov.sandbox.host.simhost import fuse_unavailable, serve

    reason = fuse_unavailable()
    if reason:
        print(f"kvsriov simhost: {reason}", file=sys.stderr)
        return 1
    print(f"simulated host ({args.fixture}) at {args.root}; Ctrl-C unmounts", file=sys.stderr)
    serve(Path(args.root), args.fixture)
    return 0


#: These parse their own options (see their modules): the image's two entry points and the doctor.
ENTRY_POINTS = {"agent": _agent, "operator": _operator, "doctor": _doctor, "vm": _vm}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kvsriov", description="SR-IOV NIC virtualization for KubeVirt.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    crds = sub.add_parser("crds", help="the CustomResourceDefinitions generated from kvsriov/api")
    crds_sub = crds.add_subparsers(dest="crds_command", required=True, metavar="ACTION")
    gen = crds_sub.add_parser("generate", help="write crds/*.yaml (or --check that they are current)")
    gen.add_argument("--check", action="store_true", help="exit 1 and print a diff when crds/ is stale")
    gen.add_argument("--dir", help="output directory (default: the project's crds/)")
    gen.set_defaults(func=_crds)

    demo = sub.add_parser(
        "demo", help="the reference workflow on a sandbox: API server, simulated hosts, agents, operator"
    )
    demo.add_argument("--keep", action="store_true", help="leave the sandbox running; print its kubeconfig")
    demo.set_defaults(func=_demo)

    protos = sub.add_parser("protos", help="the Python code of the kubelet's gRPC APIs (grpcio-tools)")
    protos_sub = protos.add_subparsers(dest="protos_command", required=True, metavar="ACTION")
    pgen = protos_sub.add_parser("generate", help="regenerate *_pb2*.py (or --check that they are current)")
    pgen.add_argument("--check", action="store_true", help="exit 1 and print a diff when they are stale")
    pgen.set_defaults(func=_protos)

    argocd = sub.add_parser("argocd", help="Argo CD health checks for the four kinds (deploy/argocd)")
    argocd_sub = argocd.add_subparsers(dest="argocd_command", required=True, metavar="ACTION")
    agen = argocd_sub.add_parser(
        "generate", help="write deploy/argocd/argocd-cm.yaml (or --check it is current)"
    )
    agen.add_argument("--check", action="store_true", help="exit 1 and print a diff when it is stale")
    agen.set_defaults(func=_argocd)

    api = sub.add_parser(
        "apiserver", help="run the emulated Kubernetes API server (sandbox) until interrupted"
    )
    api.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free one)")
    api.add_argument(
        "--kubeconfig-out", metavar="FILE", help="where to write the kubeconfig (default: a temp file)"
    )
    api.add_argument(
        "--crds", action="append", metavar="DIR", help="CRD directory to install (default: crds/)"
    )
    api.set_defaults(func=_apiserver)

    sim = sub.add_parser(
        "simhost", help="serve a simulated host (sysfs with kernel semantics, over FUSE) until interrupted"
    )
    sim.add_argument("--root", required=True, metavar="DIR", help="mount point (created when missing)")
    sim.add_argument("--fixture", default="reference", help="the host's NICs: reference | testbed")
    sim.set_defaults(func=_simhost)
    # Listed for --help only: main() hands their whole command line to their own parsers.
    sub.add_parser("agent", help="the node agent (see `kvsriov agent --help`)")
    sub.add_parser("operator", help="the operator (see `kvsriov operator --help`)")
    sub.add_parser(
        "doctor",
        help="read-only: can this host give VFs to VMs, and what to fix (--cluster: the cluster, "
        "and who adds launcher pods' VF requests)",
    )
    sub.add_parser("vm", help="VM helpers, also `kubectl kvsriov`: nics, attach-vf")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ENTRY_POINTS:
        return ENTRY_POINTS[argv[0]](argv[1:])
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
