// Package layer builds the Lambdascope extension layer: one zip per Lambda
// architecture holding the static, stripped extension binary at
// extensions/lambdascope, as `make layer` produces it and as Lambda expects
// it under /opt/extensions.
package layer

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BinaryPath is where the extension sits inside the layer zip; Lambda
// unpacks layers under /opt, so it runs as /opt/extensions/lambdascope.
const BinaryPath = "extensions/lambdascope"

// ExtensionPackage is the Go package of the extension's main.
const ExtensionPackage = "./extension/cmd/lambdascope-extension"

// LDFlags are the linker flags of the layer build (strip symbols and DWARF).
const LDFlags = "-s -w"

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

// Build compiles the extension for arch the way `make layer` does
// (CGO_ENABLED=0, -trimpath, -tags grpcnotrace, -ldflags '-s -w') from the module at repoRoot
// and writes dir/lambdascope-extension-<arch>.zip holding only
// extensions/lambdascope with mode 0755. It returns the zip's path.
func Build(ctx context.Context, repoRoot, arch, dir string) (string, error) {
	goarch, err := GOARCH(arch)
	if err != nil {
		return "", fmt.Errorf("build layer: %w", err)
	}
	bin := filepath.Join(dir, "layer-"+arch, BinaryPath)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", Tags, "-ldflags", LDFlags, "-o", bin, ExtensionPackage)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build extension for %s: %w\n%s", arch, err, strings.TrimSpace(string(out)))
	}
	zipPath := filepath.Join(dir, ZipName(arch))
	if err := writeZip(zipPath, bin); err != nil {
		return "", fmt.Errorf("write layer zip for %s: %w", arch, err)
	}
	return zipPath, nil
}

// writeZip writes a zip at path holding bin as BinaryPath, executable, plus
// the extensions/ directory entry as the zip tool writes it.
func writeZip(path, bin string) (err error) {
	src, err := os.Open(bin)
	if err != nil {
		return err
	}
	defer src.Close()
	info, err := src.Stat()
	if err != nil {
		return err
	}
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
	dirHdr := &zip.FileHeader{Name: filepath.Dir(BinaryPath) + "/", Modified: info.ModTime()}
	dirHdr.SetMode(os.ModeDir | 0o755)
	if _, err := zw.CreateHeader(dirHdr); err != nil {
		return err
	}
	hdr := &zip.FileHeader{Name: BinaryPath, Method: zip.Deflate, Modified: info.ModTime()}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, src); err != nil {
		return err
	}
	return zw.Close()
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
