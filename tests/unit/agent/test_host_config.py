"""Boot loader drop-in and modprobe options, on directories under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvsriov_agent.host.boot import BootConfigError, FileBootConfig
from kvsriov_agent.host.modprobe import FileModprobe

ARGS = ["intel_iommu=on", "iommu=pt"]


def test_grub_drop_in_written_read_and_removed(tmp_path: Path) -> None:
    (tmp_path / "etc/default").mkdir(parents=True)
    (tmp_path / "etc/default/grub").write_text('GRUB_CMDLINE_LINUX=""\n')
    boot = FileBootConfig(tmp_path)
    assert boot.loader() == "grub" and boot.kernel_args() == []
    boot.set_kernel_args(ARGS)
    text = (tmp_path / "etc/default/grub.d/kvsriov.cfg").read_text()
    assert 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX intel_iommu=on iommu=pt"' in text
    assert boot.kernel_args() == ARGS
    assert (tmp_path / "etc/default/grub").read_text() == 'GRUB_CMDLINE_LINUX=""\n'  # never edited
    boot.set_kernel_args([])
    assert not (tmp_path / "etc/default/grub.d/kvsriov.cfg").exists()


def test_kernel_install_refused_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "etc/kernel").mkdir(parents=True)
    (tmp_path / "etc/kernel/cmdline").write_text("root=/dev/sda1 ro\n")
    boot = FileBootConfig(tmp_path)
    assert boot.loader() == "kernel-install"
    with pytest.raises(BootConfigError, match=r"/etc/kernel/cmdline .* no drop-in.*intel_iommu=on iommu=pt"):
        boot.set_kernel_args(ARGS)
    assert (tmp_path / "etc/kernel/cmdline").read_text() == "root=/dev/sda1 ro\n"


def test_unknown_loader(tmp_path: Path) -> None:
    boot = FileBootConfig(tmp_path)
    assert boot.loader() is None
    with pytest.raises(BootConfigError, match="unsupported boot loader"):
        boot.set_kernel_args(ARGS)


def test_modprobe_option_and_live_parameter(tmp_path: Path) -> None:
    params = tmp_path / "sys/module/vfio_iommu_type1/parameters"
    params.mkdir(parents=True)
    (params / "allow_unsafe_interrupts").write_text("N\n")
    mp = FileModprobe(tmp_path)
    assert mp.options("vfio_iommu_type1") == {}
    assert mp.parameter("vfio_iommu_type1", "allow_unsafe_interrupts") == "N"
    mp.set_options("vfio_iommu_type1", {"allow_unsafe_interrupts": "1"})
    conf = tmp_path / "etc/modprobe.d/kvsriov.conf"
    assert "options vfio_iommu_type1 allow_unsafe_interrupts=1\n" in conf.read_text()
    assert mp.options("vfio_iommu_type1") == {"allow_unsafe_interrupts": "1"}
    assert (params / "allow_unsafe_interrupts").read_text() == "1"
    mp.set_options("vfio_iommu_type1", {})
    assert not conf.exists()
    assert (params / "allow_unsafe_interrupts").read_text() == "0"


def test_modprobe_module_not_loaded_only_writes_the_file(tmp_path: Path) -> None:
    mp = FileModprobe(tmp_path / "etc-root", sys_root=tmp_path / "sys")
    mp.set_options("vfio_iommu_type1", {"allow_unsafe_interrupts": "1"})
    assert (tmp_path / "etc-root/etc/modprobe.d/kvsriov.conf").exists()
    assert mp.parameter("vfio_iommu_type1", "allow_unsafe_interrupts") is None
    assert not (tmp_path / "sys/module").exists()
