// Package layer builds the Lambdascope extension layer: one zip per Lambda
// architecture holding two static, stripped binaries, as `make layer`
// produces them: the launcher at extensions/lambdascope, which Lambda
// starts from /opt/extensions, and the agent it starts at
// lambdascope/lambdascope-extension.
package layer

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/lambdascope/lambdascope/extension"
)

// BinaryPath is where the launcher sits inside the layer zip; Lambda
// unpacks layers under /opt, so it runs as /opt/extensions/lambdascope.
const BinaryPath = extension.LauncherPath

// AgentPath is where the agent sits inside the layer zip.
const AgentPath = extension.AgentPath

// WrapperPath is where the exec wrapper sits inside the layer: under /opt,
// the value of AWS_LAMBDA_EXEC_WRAPPER.
const WrapperPath = extension.WrapperPath

// WrapperSource is the exec wrapper in the repository, which the layer
// holds as it is.
const WrapperSource = "extension/lambdascope-wrapper"

// LauncherPackage is the Go package of the launcher's main.
const LauncherPackage = "./extension/cmd/lambdascope-launcher"

// ExtensionPackage is the Go package of the agent's main.
const ExtensionPackage = "./extension/cmd/lambdascope-extension"

// Binaries are the layer's programs: path inside the layer, Go package.
var Binaries = [][2]string{{BinaryPath, LauncherPackage}, {AgentPath, ExtensionPackage}}

// LDFlags are the linker flags of the layer build (strip symbols and DWARF).
const LDFlags = "-s -w"

// Version is what the layer's programs report as their version (the agent
// sends it with every batch): git describe of the repository at repoRoot,
// "dev" outside a git checkout.
func Version(ctx context.Context, repoRoot string) string {
	cmd := exec.CommandContext(ctx, "git", "describe", "--tags", "--always", "--dirty")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return "dev"
}

// linkerFlags are LDFlags with the version set.
func linkerFlags(version string) string { return LDFlags + " -X main.version=" + version }

// Tags are the build tags of the layer build. grpcnotrace leaves out gRPC's
// request tracing (golang.org/x/net/trace and, through it, html/template),
// which the extension never enables: 2.3 MB less binary and fewer packages
// to initialise before the extension's first call to Lambda.
const Tags = "grpcnotrace"

// MaxZipBytes is the largest layer zip we ship (8 MB).
const MaxZipBytes = 8 << 20

// Architectures are the Lambda architectures a layer is built for.
var Architectures = []string{"x86_64", "arm64"}

// GOARCH maps a Lambda architecture name to Go's.
func GOARCH(arch string) (string, error) {
	switch arch {
	case "x86_64":
		return "amd64", nil
	case "arm64":
		return "arm64", nil
	default:
		return "", fmt.Errorf("unknown lambda architecture %q (want x86_64 or arm64)", arch)
	}
}

// ZipName is the file name of the layer zip for arch.
func ZipName(arch string) string { return "lambdascope-extension-" + arch + ".zip" }

// Build compiles the launcher and the agent for arch the way `make layer`
// does (CGO_ENABLED=0, -trimpath, -tags grpcnotrace, -ldflags '-s -w' and
// the version from git describe)
// from the module at repoRoot into dir/layer-<arch>/, laid out as in the
// layer, and writes dir/lambdascope-extension-<arch>.zip holding both with
// mode 0755. It returns the zip's path.
func Build(ctx context.Context, repoRoot, arch, dir string) (string, error) {
	goarch, err := GOARCH(arch)
	if err != nil {
		return "", fmt.Errorf("build layer: %w", err)
	}
	root := filepath.Join(dir, "layer-"+arch)
	version := Version(ctx, repoRoot)
	for _, b := range Binaries {
		if err := buildBinary(ctx, repoRoot, b[1], filepath.Join(root, filepath.FromSlash(b[0])), goarch, version); err != nil {
			return "", fmt.Errorf("build layer for %s: %w", arch, err)
		}
	}
	if err := writeWrapper(root); err != nil {
		return "", fmt.Errorf("build layer for %s: %w", arch, err)
	}
	zipPath := filepath.Join(dir, ZipName(arch))
	if err := writeZip(zipPath, root); err != nil {
		return "", fmt.Errorf("write layer zip for %s: %w", arch, err)
	}
	return zipPath, nil
}

// BuildTree compiles the launcher and the agent for this machine into
// root, laid out as in the layer (root/extensions/lambdascope and
// root/lambdascope/lambdascope-extension), and returns the launcher's
// path: what to start as the extension.
func BuildTree(ctx context.Context, repoRoot, root string) (string, error) {
	version := Version(ctx, repoRoot)
	for _, b := range Binaries {
		if err := buildBinary(ctx, repoRoot, b[1], filepath.Join(root, filepath.FromSlash(b[0])), "", version); err != nil {
			return "", err
		}
	}
	if err := writeWrapper(root); err != nil {
		return "", err
	}
	return filepath.Join(root, filepath.FromSlash(BinaryPath)), nil
}

// writeWrapper writes the exec wrapper into the layer tree at root.
func writeWrapper(root string) error {
	p := filepath.Join(root, filepath.FromSlash(WrapperPath))
	if err := os.WriteFile(p, []byte(extension.Wrapper), 0o755); err != nil {
		return fmt.Errorf("write the exec wrapper: %w", err)
	}
	return os.Chmod(p, 0o755)
}

// buildBinary builds pkg as the layer does into out (for goarch, or this
// machine's when empty), reporting version.
func buildBinary(ctx context.Context, repoRoot, pkg, out, goarch, version string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", Tags, "-ldflags", linkerFlags(version), "-o", out, pkg)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if goarch != "" {
		cmd.Env = append(cmd.Env, "GOOS=linux", "GOARCH="+goarch)
	}
	if o, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %w\n%s", pkg, err, strings.TrimSpace(string(o)))
	}
	return nil
}

// writeZip writes a zip at path holding the layer's binaries from root,
// executable, each after its directory entry as the zip tool writes them.
func writeZip(path, root string) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	zw := zip.NewWriter(f)
	for _, b := range Binaries {
		if err := addFile(zw, root, b[0]); err != nil {
			return err
		}
	}
	if err := addFile(zw, root, WrapperPath); err != nil {
		return err
	}
	return zw.Close()
}

// addFile adds root/name and its directory entry to zw.
func addFile(zw *zip.Writer, root, name string) error {
	src, err := os.Open(filepath.Join(root, filepath.FromSlash(name)))
	if err != nil {
		return err
	}
	defer src.Close()
	info, err := src.Stat()
	if err != nil {
		return err
	}
	if dir := path.Dir(name); dir != "." {
		dirHdr := &zip.FileHeader{Name: dir + "/", Modified: info.ModTime()}
		dirHdr.SetMode(os.ModeDir | 0o755)
		if _, err := zw.CreateHeader(dirHdr); err != nil {
			return err
		}
	}
	hdr := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: info.ModTime()}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, src)
	return err
}

// RepoRoot finds the repository root (the directory holding go.mod) from
// the working directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}
