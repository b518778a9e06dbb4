//go:build tools

// Package tools pins the CNI programs that tests/hil/test_sriov_cni_hil.py and
// tests/hil/test_vf_vnic_reach_hil.py run, so that
// go.mod/go.sum fix their versions and `go build` can name them.
package tools

import (
	_ "github.com/containernetworking/plugins/plugins/ipam/static"
	_ "github.com/containernetworking/plugins/plugins/main/bridge"
	_ "github.com/containernetworking/plugins/plugins/main/host-device"
)
