// kube-scheduler, built from the upstream k8s.io/kubernetes module at the
// version pinned in ../../go.mod (the same as kube-apiserver), for kvsriov's
// real-server test tier.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream's main
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	os.Exit(cli.Run(app.NewSchedulerCommand()))
}
