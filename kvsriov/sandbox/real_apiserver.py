"""A real kube-apiserver + etcd on loopback, for the real-server test tier.

The binaries come from `hack/real-apiserver/build.sh` (built from their Go
modules, cached). What they need at start is in ../shared/REAL-APISERVER.md:
etcd on loopback, a CA and a serving certificate for 127.0.0.1, a
service-account key pair, and an admin identity (a static token here, in
group system:masters). No controller-manager, scheduler or kubelet run.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from kvsriov.paths import PROJECT_ROOT

BUILD_SCRIPT = PROJECT_ROOT / "hack" / "real-apiserver" / "build.sh"
#: A static token for a loopback test server, in group system:masters.
ADMIN_TOKEN = "kvsriov-test-admin-token"
START_TIMEOUT_S = 60.0


def poll_readyz(
    what: str,
    request: urllib.request.Request,
    context: ssl.SSLContext,
    exited: Callable[[], str | None],
    interval: float,
) -> None:
    """Ask `request` (a /readyz) until it answers `ok`; RealApiServerUnavailable when the process
    `exited` (its message) or after START_TIMEOUT_S (the last error)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    last = "no answer"
    while time.monotonic() < deadline:
        message = exited()
        if message is not None:
            raise RealApiServerUnavailable(message)
        try:
            with urllib.request.urlopen(request, context=context, timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError as exc:
            last = str(exc)
        time.sleep(interval)
    raise RealApiServerUnavailable(f"{what} not ready within {START_TIMEOUT_S:.0f} s: {last}")


class RealApiServerUnavailable(RuntimeError):
    """The binaries cannot be built here (no Go, no module proxy): tests skip with this message."""


def build() -> Path:
    """Build (or find cached) kube-apiserver and etcd; returns their directory."""
    try:
        result = subprocess.run(
            ["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False, timeout=3600
        )
    except FileNotFoundError as exc:
        raise RealApiServerUnavailable(f"cannot run {BUILD_SCRIPT}: {exc}") from exc
    if result.returncode != 0:
        raise RealApiServerUnavailable(
            f"{BUILD_SCRIPT} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
        )
    return Path(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_pki(directory: Path) -> None:
    """CA, a serving cert for 127.0.0.1/localhost, and the service-account RSA key pair."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kvsriov-test-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (directory / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "apiserver.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "apiserver.key").write_bytes(_pem(key))
    (directory / "sa.key").write_bytes(_pem(sa_key))
    (directory / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (directory / "tokens.csv").write_text(f'{ADMIN_TOKEN},admin,admin,"system:masters"\n')


@dataclass
class RealApiServer:
    """kube-apiserver + etcd processes under `workdir`; `kubeconfig` is written once ready."""

    bin_dir: Path
    workdir: Path
    port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    def start(self) -> RealApiServer:
        pki = self.workdir / "pki"
        pki.mkdir(parents=True, exist_ok=True)
        _write_pki(pki)
        etcd_port, peer_port = free_port(), free_port()
        log = (self.workdir / "etcd.log").open("wb")
        self.processes.append(
            subprocess.Popen(
                [
                    str(self.bin_dir / "etcd"),
                    "--data-dir",
                    str(self.workdir / "etcd"),
                    "--listen-client-urls",
                    f"http://127.0.0.1:{etcd_port}",
                    "--listen-peer-urls",
                    f"http://127.0.0.1:{peer_port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        log = (self.workdir / "kube-apiserver.log").open("wb")
        self.processes.append(
            subprocess.Popen(
                [
                    str(self.bin_dir / "kube-apiserver"),
                    f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--secure-port={self.port}",
                    f"--cert-dir={pki}",
                    f"--tls-cert-file={pki / 'apiserver.crt'}",
                    f"--tls-private-key-file={pki / 'apiserver.key'}",
                    f"--client-ca-file={pki / 'ca.crt'}",
                    f"--token-auth-file={pki / 'tokens.csv'}",
                    "--service-account-issuer=https://kubernetes.default.svc",
                    f"--service-account-key-file={pki / 'sa.pub'}",
                    f"--service-account-signing-key-file={pki / 'sa.key'}",
                    "--service-cluster-ip-range=10.96.0.0/16",
                    "--authorization-mode=RBAC",
                    "--allow-privileged=true",
                    "--endpoint-reconciler-type=none",
                    "--enable-priority-and-fairness=false",
                    "--profiling=false",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        self._wait_ready(pki / "ca.crt")
        self._write_kubeconfig(pki / "ca.crt")
        return self

    def _wait_ready(self, ca: Path) -> None:
        context = ssl.create_default_context(cafile=str(ca))
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        request = urllib.request.Request(f"{self.url}/readyz", headers=headers)

        def exited() -> str | None:
            for proc in self.processes:
                if proc.poll() is not None:
                    # typeshed allows any command form in args; ours are lists of str
                    program = cast(list[str], proc.args)[0]
                    return f"{program} exited with {proc.returncode}; see the logs in {self.workdir}"
            return None

        try:
            poll_readyz("kube-apiserver", request, context, exited, interval=0.2)
        except RealApiServerUnavailable:
            self.stop()
            raise

    def _write_kubeconfig(self, ca: Path) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "real",
            "clusters": [{"name": "real", "cluster": {"server": self.url, "certificate-authority": str(ca)}}],
            "users": [{"name": "admin", "user": {"token": ADMIN_TOKEN}}],
            "contexts": [{"name": "real", "context": {"cluster": "real", "user": "admin"}}],
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))
        os.chmod(self.kubeconfig, 0o600)

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.processes.clear()

    def __enter__(self) -> RealApiServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


@dataclass
class RealScheduler:
    """The real kube-scheduler against a running :class:`RealApiServer`, as its admin.

    Runs without a controller-manager: it needs nothing from one. Leader election is off (a
    lone scheduler), and it serves /readyz on a free loopback port with a self-signed
    certificate, anonymous access to the health paths only (no authentication or
    authorization kubeconfig: nothing else is delegated). Ready means its informers and
    event handlers have synced, so a Pod or Node created after :meth:`start` is seen.
    """

    server: RealApiServer
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def binary(self) -> Path:
        return self.server.bin_dir / "kube-scheduler"

    @property
    def config(self) -> Path:
        return self.workdir / "kube-scheduler.yaml"

    @property
    def log(self) -> Path:
        return self.workdir / "kube-scheduler.log"

    def start(self) -> RealScheduler:
        if not self.binary.is_file():
            raise RealApiServerUnavailable(f"{self.binary} is missing: run {BUILD_SCRIPT}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "clientConnection": {"kubeconfig": str(self.server.kubeconfig), "qps": 100, "burst": 200},
            "leaderElection": {"leaderElect": False},
        }
        self.config.write_text(yaml.safe_dump(config))
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(self.binary),
                    f"--config={self.config}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={self.port}",
                    f"--cert-dir={self.workdir / 'certs'}",
                    "--profiling=false",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False  # its own self-signed serving certificate
        context.verify_mode = ssl.CERT_NONE

        def exited() -> str | None:
            assert self.process is not None
            if self.process.poll() is None:
                return None
            code = self.process.returncode
            self.process = None
            tail = self.log.read_text(errors="replace")[-2000:]
            return f"kube-scheduler exited with {code}: {tail}"

        url = f"https://127.0.0.1:{self.port}/readyz"
        try:
            poll_readyz("kube-scheduler", urllib.request.Request(url), context, exited, interval=0.1)
        except RealApiServerUnavailable:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def __enter__(self) -> RealScheduler:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


THIRD_PARTY_CRDS = Path(__file__).resolve().parent / "apiserver" / "thirdparty_crds"


def install_crds(kubeconfig: Path, directories: list[Path]) -> None:
    """`kubectl apply` of every CRD, then wait until each is Established (served)."""
    for directory in directories:
        apply = ["kubectl", "--kubeconfig", str(kubeconfig), "apply", "--server-side", "-f", str(directory)]
        subprocess.run(apply, check=True, capture_output=True, text=True, timeout=120)
    subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            "wait",
            "--for=condition=Established",
            "crd",
            "--all",
            "--timeout=60s",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=90,
    )


def reset(kubeconfig: Path) -> None:
    """Remove what tests create (custom objects of every CRD, Nodes, webhook configurations,
    ConfigMaps, Pods and Events in "default"), so each test starts from an empty cluster."""
    from kubernetes import client, config  # lazy: the hil tier never needs it

    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        custom = client.CustomObjectsApi(api_client)
        for crd in client.ApiextensionsV1Api(api_client).list_custom_resource_definition().items:
            group, plural = crd.spec.group, crd.spec.names.plural
            version = next(v.name for v in crd.spec.versions if v.storage)
            namespaced = crd.spec.scope == "Namespaced"
            for item in custom.list_cluster_custom_object(group, version, plural).get("items", []):
                meta = item["metadata"]
                args = (
                    (group, version, meta["namespace"], plural, meta["name"])
                    if namespaced
                    else (group, version, plural, meta["name"])
                )
                patch = {"metadata": {"finalizers": None}}
                try:
                    if namespaced:
                        if meta.get("finalizers"):
                            custom.patch_namespaced_custom_object(*args, patch)
                        custom.delete_namespaced_custom_object(*args)
                    else:
                        if meta.get("finalizers"):
                            custom.patch_cluster_custom_object(*args, patch)
                        custom.delete_cluster_custom_object(*args)
                except client.ApiException as exc:
                    if exc.status != 404:
                        raise
        core = client.CoreV1Api(api_client)
        for node in core.list_node().items:
            core.delete_node(node.metadata.name)
        core.delete_collection_namespaced_config_map("default")
        core.delete_collection_namespaced_pod("default", grace_period_seconds=0)
        core.delete_collection_namespaced_event("default")
        admission = client.AdmissionregistrationV1Api(api_client)
        admission.delete_collection_validating_webhook_configuration()
        admission.delete_collection_mutating_webhook_configuration()
    finally:
        api_client.close()
