package layer

import (
	"archive/zip"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestMakefileBuildsTheSameLayer guards against the Makefile's layer recipe
// and Build drifting apart: both must use the same flags and layout.
func TestMakefileBuildsTheSameLayer(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), "make", "-n", "layer")
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n layer: %v\n%s", err, out)
	}
	recipe := string(out)
	for _, want := range []string{
		"CGO_ENABLED=0",
		"GOOS=linux",
		"-trimpath",
		"-tags " + Tags,
		"-ldflags '" + LDFlags + " -X main.version=",
		ExtensionPackage,
		LauncherPackage,
		BinaryPath,
		AgentPath,
		WrapperSource,
		"zip -qr",
		"lambdascope-extension-$arch.zip",
	} {
		if !strings.Contains(recipe, want) {
			t.Errorf("make layer recipe lacks %q:\n%s", want, recipe)
		}
	}
	for _, arch := range Architectures {
		if !strings.Contains(recipe, arch) {
			t.Errorf("make layer does not build %s", arch)
		}
	}
}

func TestLayerZips(t *testing.T) {
	root := repoRoot(t)
	machines := map[string]elf.Machine{"x86_64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	zipCLI, zipErr := exec.LookPath("zip")
	for _, arch := range Architectures {
		t.Run(arch, func(t *testing.T) {
			dir := t.TempDir()
			zipPath, err := Build(t.Context(), root, arch, dir)
			if err != nil {
				t.Fatal(err)
			}
			tests := []struct{ name, path string }{{"archive/zip", zipPath}}
			// The zip tool is what `make layer` runs; check its output too.
			if zipErr == nil {
				cliZip := filepath.Join(dir, "cli-"+ZipName(arch))
				cmd := exec.CommandContext(t.Context(), zipCLI, "-qr", cliZip, "extensions", "lambdascope", WrapperPath)
				cmd.Dir = filepath.Join(dir, "layer-"+arch)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("zip: %v\n%s", err, out)
				}
				tests = append(tests, struct{ name, path string }{"zip tool", cliZip})
			} else if os.Getenv("CI") == "true" {
				t.Fatalf("zip tool missing (make deps installs it): %v", zipErr)
			}
			for _, tt := range tests {
				t.Run(strings.ReplaceAll(tt.name, "/", "_"), func(t *testing.T) {
					checkLayerZip(t, tt.path, machines[arch])
				})
			}
		})
	}
}

func TestGOARCHRejectsUnknownArchitecture(t *testing.T) {
	tests := []struct {
		arch, want string
		ok         bool
	}{
		{"x86_64", "amd64", true},
		{"arm64", "arm64", true},
		{"amd64", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := GOARCH(tt.arch)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("GOARCH(%q) = %q, %v; want %q, ok=%v", tt.arch, got, err, tt.want, tt.ok)
		}
	}
}

// checkLayerZip asserts the zip holds exactly the launcher at
// extensions/lambdascope and the agent at lambdascope/lambdascope-extension
// (and their directory entries), each executable, a static stripped ELF
// for machine, and is at most MaxZipBytes.
func checkLayerZip(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() > MaxZipBytes {
		t.Errorf("zip is %d bytes, want at most %d", info.Size(), MaxZipBytes)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("open zip: %v", err)
	}
	t.Cleanup(func() { _ = zr.Close() })
	bins := map[string]*zip.File{}
	for _, f := range zr.File {
		switch {
		case f.Name == BinaryPath || f.Name == AgentPath:
			bins[f.Name] = f
		case f.Name == WrapperPath:
			checkWrapper(t, f)
			bins[f.Name] = f
		case f.FileInfo().IsDir() && (f.Name == filepath.Dir(BinaryPath)+"/" || f.Name == filepath.Dir(AgentPath)+"/"):
		default:
			t.Errorf("unexpected zip entry %q", f.Name)
		}
	}
	if bins[WrapperPath] == nil {
		t.Errorf("zip lacks %s", WrapperPath)
	}
	for _, name := range []string{BinaryPath, AgentPath} {
		bin := bins[name]
		if bin == nil {
			t.Errorf("zip lacks %s", name)
			continue
		}
		t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) { checkBinary(t, bin, machine) })
	}
}

// checkWrapper asserts the exec wrapper is the repository's script,
// executable by all.
func checkWrapper(t *testing.T, f *zip.File) {
	t.Helper()
	if mode := f.Mode(); !mode.IsRegular() || mode.Perm()&0o111 != 0o111 {
		t.Errorf("%s mode = %v, want a regular file executable by all", f.Name, mode)
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(repoRoot(t), WrapperSource))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s in the zip differs from %s", f.Name, WrapperSource)
	}
}

// checkBinary asserts bin is executable and a static, stripped ELF file
// for machine.
func checkBinary(t *testing.T, bin *zip.File, machine elf.Machine) {
	if mode := bin.Mode(); !mode.IsRegular() || mode.Perm()&0o111 != 0o111 {
		t.Errorf("%s mode = %v, want a regular file executable by all", bin.Name, mode)
	}

	// debug/elf needs an io.ReaderAt: extract to disk.
	rc, err := bin.Open()
	if err != nil {
		t.Fatalf("open %s in zip: %v", bin.Name, err)
	}
	defer rc.Close()
	extracted := filepath.Join(t.TempDir(), "lambdascope")
	out, err := os.Create(extracted)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, rc); err != nil {
		t.Fatalf("extract: %v", err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(extracted)
	if err != nil {
		t.Fatalf("not an ELF file: %v", err)
	}
	t.Cleanup(func() { _ = ef.Close() })
	if ef.Machine != machine {
		t.Errorf("machine = %v, want %v", ef.Machine, machine)
	}
	if ef.Type != elf.ET_EXEC {
		t.Errorf("ELF type = %v, want ET_EXEC (static, not position-independent)", ef.Type)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %v present: binary is dynamically linked", p.Type)
		}
	}
	for _, s := range ef.Sections {
		switch {
		case s.Type == elf.SHT_DYNAMIC, s.Name == ".interp":
			t.Errorf("section %s present: binary is dynamically linked", s.Name)
		case s.Type == elf.SHT_SYMTAB, strings.HasPrefix(s.Name, ".debug_"), strings.HasPrefix(s.Name, ".zdebug_"):
			t.Errorf("section %s present: binary is not stripped", s.Name)
		}
	}
	if libs, err := ef.ImportedLibraries(); err != nil || len(libs) != 0 {
		t.Errorf("imported libraries = %v (%v), want none", libs, err)
	}
}

// TestProgramsReportTheVersion builds the layer's programs for this machine
// and checks that both report the version git describe gives.
func TestProgramsReportTheVersion(t *testing.T) {
	root := repoRoot(t)
	dir := t.TempDir()
	if _, err := BuildTree(t.Context(), root, dir); err != nil {
		t.Fatal(err)
	}
	want := "version: " + Version(t.Context(), root) + "\n"
	for _, p := range []string{BinaryPath, AgentPath} {
		out, err := exec.CommandContext(t.Context(), filepath.Join(dir, filepath.FromSlash(p)), "--help").Output()
		if err != nil {
			t.Fatalf("%s --help: %v", p, err)
		}
		if !strings.HasSuffix(string(out), want) {
			t.Errorf("%s --help ends %q, want %q", p, string(out)[max(0, len(out)-60):], want)
		}
	}
}
