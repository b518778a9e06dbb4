// kubelet, built from the upstream k8s.io/kubernetes module at the version pinned in
// ../../go.mod (the same release as the real kube-apiserver of our test tier), for kvsriov's
// real node tier: our device plugin and PodResources client meet the real kubelet.
package main

import (
	"context"
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kubelet/app"
)

func main() {
	os.Exit(cli.Run(app.NewKubeletCommand(context.Background())))
}
