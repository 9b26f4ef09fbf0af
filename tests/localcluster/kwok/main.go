// Command localcluster-kwok runs KWOK (sigs.k8s.io/kwok) for a member of a local
// federation: it simulates the member's nodes and moves pods bound to them through
// their phases, with no kubelet and no containers.
//
//	localcluster-kwok stages              print the stages to use (KWOK's "fast" node and pod stages)
//	localcluster-kwok [kwok flags...]     run KWOK
//
// KWOK needs k8s.io/* v0.36, so it is its own Go module, apart from the v1.34
// apiserver module in ../server.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"sigs.k8s.io/kwok/kustomize/stage/node/fast"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
	"sigs.k8s.io/kwok/pkg/config"
	"sigs.k8s.io/kwok/pkg/kwok/cmd"
	"sigs.k8s.io/kwok/pkg/log"
	"sigs.k8s.io/kwok/pkg/utils/signals"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "stages" {
		// Nodes become Ready at once; pods become Running and Ready as soon as they
		// are bound, Job pods complete, and deleted pods go away (no kubelet to do it).
		stages := []string{fast.DefaultNodeInit, podfast.DefaultPodReady,
			podfast.DefaultPodComplete, podfast.DefaultPodDelete}
		for i, stage := range stages {
			stages[i] = strings.TrimSpace(stage)
		}
		fmt.Println(strings.Join(stages, "\n---\n"))
		return
	}
	os.Exit(runKwok())
}

// runKwok runs KWOK's own command, set up as its upstream main sets it up.
func runKwok() int {
	flagset := pflag.NewFlagSet("global", pflag.ContinueOnError)
	flagset.ParseErrorsAllowlist.UnknownFlags = true
	flagset.Usage = func() {}
	ctx := signals.SetupSignalContext()
	ctx, logger := log.InitFlags(ctx, flagset)
	ctx, err := config.InitFlags(ctx, flagset)
	if err != nil {
		logger.Error("Init config flags", "err", err)
		return 1
	}
	command := cmd.NewCommand(ctx)
	command.PersistentFlags().AddFlagSet(flagset)
	if err := command.ExecuteContext(ctx); err != nil {
		logger.Error("Execute exit", "err", err)
		return 1
	}
	return 0
}
