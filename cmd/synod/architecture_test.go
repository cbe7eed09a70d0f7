package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/synodvm/synod/"

// goPackage is what `go list -json` says about a package.
type goPackage struct {
	ImportPath string
	Deps       []string
	Standard   bool
}

func listPackages(t *testing.T, args ...string) []goPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	out, err := cmd.Output()
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []goPackage
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			return pkgs
		} else {
			require.NoError(t, err)
		}
		pkgs = append(pkgs, p)
	}
}

// TestArchitecture guards the layering of docs/architecture.md: the
// machine is pure (standard library only, so it can be reasoned about and
// fuzzed alone), consensus knows nothing of the machine, and only the
// transport package (and the config and wiring that name its key types)
// may pull in libp2p, only the command runs the simulator, and the
// Byzantine engine stands on the standard library, consensus,
// internal/durable and internal/signing.
func TestArchitecture(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	std := map[string]bool{}
	for _, p := range listPackages(t, "std") {
		std[p.ImportPath] = true
	}
	inside := func(pkg, prefix string) bool {
		return pkg == module+prefix || strings.HasPrefix(pkg, module+prefix+"/")
	}
	// signingDep says whether dep is internal/signing or what it stands
	// on: one audited ed25519 implementation (curve25519-voi, also
	// CometBFT's) and the packages it needs.
	signingDep := func(dep string) bool {
		for _, prefix := range []string{module + "internal/signing", "github.com/oasisprotocol/curve25519-voi/", "golang.org/x/crypto/", "golang.org/x/sys/"} {
			if dep == strings.TrimSuffix(prefix, "/") || strings.HasPrefix(dep, prefix) {
				return true
			}
		}
		return false
	}
	libp2pAllowed := []string{"consensus/p2p", "consensus/cluster", "consensus/raftnode", "consensus/bftnode", "cmd"}

	checked := 0
	for _, p := range listPackages(t, "../../...") {
		checked++
		for _, dep := range p.Deps {
			switch {
			case inside(p.ImportPath, "consensus/bft"):
				// The Byzantine engine is small enough to audit whole: the
				// standard library, the consensus interfaces,
				// internal/durable for its record file and internal/signing
				// for its signatures, nothing else.
				require.True(t, std[dep] || dep == module+"consensus" || dep == module+"internal/durable" || signingDep(dep),
					"%s may depend on the standard library, consensus, internal/durable and internal/signing only, but imports %s", p.ImportPath, dep)
			case inside(p.ImportPath, "internal/signing"):
				require.True(t, std[dep] || dep == module+"consensus" || signingDep(dep),
					"%s may depend on the standard library, consensus and curve25519-voi only, but imports %s", p.ImportPath, dep)
			case inside(p.ImportPath, "internal/durable"), inside(p.ImportPath, "internal/rawio"):
				require.True(t, std[dep] || strings.HasPrefix(dep, "golang.org/x/sys/"),
					"%s may depend on the standard library and golang.org/x/sys only, but imports %s", p.ImportPath, dep)
			case inside(p.ImportPath, "machine/jit"):
				require.True(t, std[dep] || dep == "golang.org/x/sys/cpu",
					"%s may depend on the standard library and golang.org/x/sys/cpu (host features) only, but imports %s", p.ImportPath, dep)
			case inside(p.ImportPath, "machine"):
				require.True(t, std[dep] || inside(dep, "machine") || dep == "golang.org/x/sys/cpu",
					"%s is pure: standard library and machine/... only (and golang.org/x/sys/cpu through machine/jit), but imports %s", p.ImportPath, dep)
			case inside(p.ImportPath, "consensus"):
				for _, banned := range []string{"machine", "replica", "outputs", "peripherals"} {
					require.False(t, inside(dep, banned), "%s must not depend on %s", p.ImportPath, dep)
				}
			case inside(p.ImportPath, "outputs"), inside(p.ImportPath, "peripherals"):
				for _, banned := range []string{"machine", "replica"} {
					require.False(t, inside(dep, banned), "%s must not depend on %s", p.ImportPath, dep)
				}
			case inside(p.ImportPath, "replica/sim"):
				// The simulator models the disk server with the server's own
				// exactly-once rule (disk.ExactlyOnce), not a copy of it.
				require.False(t, inside(dep, "peripherals") && !inside(dep, "peripherals/disk"), "%s must not depend on %s", p.ImportPath, dep)
			case inside(p.ImportPath, "replica"):
				require.False(t, inside(dep, "peripherals"), "%s must not depend on %s", p.ImportPath, dep)
			}
			// The simulator is a tool: only the command runs it.
			if inside(dep, "replica/sim") {
				require.True(t, inside(p.ImportPath, "cmd"), "%s must not depend on the simulator %s", p.ImportPath, dep)
			}
			if strings.HasPrefix(dep, "github.com/libp2p/") {
				allowed := false
				for _, a := range libp2pAllowed {
					allowed = allowed || inside(p.ImportPath, a)
				}
				require.True(t, allowed, "%s pulls in libp2p (%s); only the transport may", p.ImportPath, dep)
			}
		}
	}
	require.Greater(t, checked, 10)
}
