// kube-apiserver, built from the upstream k8s.io/kubernetes module at the
// version pinned in ../../go.mod, for kvsriov's real-server test tier.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
