package main

// kclverify: verify a Konnektor Custody Ledger export bundle offline, with the
// same verdict as `custody verify BUNDLE` (app/cli/ledger_cmds.py).
//
//	kclverify BUNDLE [--vkey KEY] [--witness VKEY]... [--require-cosignatures K]
//	                 [--workers N] [--json] [--cpuprofile FILE]
//
// Exit status: 0 valid, 1 findings, 2 unusable input or usage error, 4 internal error.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
)

const (
	EXIT_OK       = 0
	EXIT_FAILED   = 1
	EXIT_INPUT    = 2
	EXIT_INTERNAL = 4
)

const usageText = `usage: kclverify BUNDLE [--vkey KEY] [--witness VKEY]... [--require-cosignatures K] [--workers N] [--json] [--cpuprofile FILE]

Verify an export bundle (.zip or directory) offline: entries, chains, signatures,
keys, roles, rules, inclusion proofs or tree, checkpoint and cosignatures.

  --vkey KEY                  pin the log's verifier key instead of trusting the bundle's log.vkey
  --witness VKEY              a trusted witness's cosignature vkey (repeatable)
  --require-cosignatures K    cosignatures by --witness keys the checkpoint needs (default 0)
  --workers N                 goroutines preparing entries (default: one per core)
  --json                      print the report as JSON
  --cpuprofile FILE           write a CPU profile (runtime/pprof)
  --bench-ed25519             print Go's single-core Ed25519 verify rate as JSON and exit

Exit status: 0 valid, 1 verification failed (every finding listed), 2 unusable input or usage error.
`

type cliArgs struct {
	bundle     string
	vkey       *string
	witnesses  []string
	required   int
	workers    int
	json       bool
	cpuprofile string
	help       bool
	bench      bool // --bench-ed25519: print Go's single-core Ed25519 verify rate (bench_ed25519.go)
}

func usageError(format string, args ...any) *LedgerError {
	return Errf("cli.usage", format, args...)
}

func parseArgs(args []string) (*cliArgs, error) {
	out := &cliArgs{}
	var positional []string
	valueOptions := map[string]bool{"--vkey": true, "--witness": true, "--require-cosignatures": true, "--workers": true, "--cpuprofile": true}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			positional = append(positional, arg)
			continue
		}
		name, value, hasValue := strings.Cut(arg, "=")
		switch name {
		case "--bench-ed25519":
			out.bench = true
			continue
		case "-h", "--help":
			out.help = true
			continue
		case "--json":
			if hasValue {
				return nil, usageError("option --json does not take a value")
			}
			out.json = true
			continue
		}
		if !valueOptions[name] {
			return nil, usageError("no such option: %s", name)
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, usageError("option %s requires an argument", name)
			}
			i++
			value = args[i]
		}
		switch name {
		case "--vkey":
			v := value
			out.vkey = &v
		case "--witness":
			out.witnesses = append(out.witnesses, value)
		case "--cpuprofile":
			out.cpuprofile = value
		case "--require-cosignatures", "--workers":
			n, err := strconv.Atoi(strings.TrimSpace(value))
			if err != nil {
				return nil, usageError("invalid value for %s: %s is not a valid integer", name, pyStr(value))
			}
			if name == "--workers" {
				if n < 1 {
					return nil, usageError("invalid value for --workers: %d is not in the range x>=1", n)
				}
				out.workers = n
			} else {
				if n < 0 {
					return nil, usageError("invalid value for --require-cosignatures: %d is not in the range x>=0", n)
				}
				out.required = n
			}
		}
	}
	if out.help || out.bench {
		return out, nil
	}
	if len(positional) != 1 {
		if len(positional) == 0 {
			return nil, usageError("missing argument BUNDLE")
		}
		return nil, usageError("got unexpected extra argument (%s)", positional[1])
	}
	out.bundle = positional[0]
	return out, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the CLI; it returns the exit status.
func run(argv []string, stdout, stderr io.Writer) (code int) {
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	fail := func(message, errCode string, exit int) int {
		out.Flush()
		fmt.Fprintf(stderr, "error: %s [%s]\n", message, errCode)
		return exit
	}
	defer func() {
		if r := recover(); r != nil {
			code = fail(fmt.Sprintf("internal error: %v", r), "internal", EXIT_INTERNAL)
		}
	}()
	args, err := parseArgs(argv)
	if err != nil {
		return fail(errMessage(err), err.(*LedgerError).Code, EXIT_INPUT)
	}
	if args.help {
		fmt.Fprint(out, usageText)
		return EXIT_OK
	}
	if args.bench {
		out.Flush()
		return benchEd25519()
	}
	if args.cpuprofile != "" {
		f, err := os.Create(args.cpuprofile)
		if err != nil {
			return fail(fmt.Sprintf("cannot write the CPU profile: %v", err), "cli.usage", EXIT_INPUT)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(fmt.Sprintf("cannot start the CPU profile: %v", err), "cli.usage", EXIT_INPUT)
		}
		defer pprof.StopCPUProfile()
	}
	report, err := VerifyBundle(args.bundle, VerifyOptions{Vkey: args.vkey, Witnesses: args.witnesses,
		RequiredCosignatures: args.required, Workers: args.workers})
	if err != nil {
		switch e := err.(type) {
		case *LedgerError:
			return fail(e.Msg, e.Code, exitCodeFor(e.Code))
		case *tlInternal:
			return fail(fmt.Sprintf("internal error: %v", e.err), "internal", EXIT_INTERNAL)
		default:
			return fail(fmt.Sprintf("internal error: %v", err), "internal", EXIT_INTERNAL)
		}
	}
	if args.json {
		out.WriteString(reportJSON(report))
		out.WriteString("\n")
	} else {
		printReport(out, report)
	}
	if !report.Valid() {
		return fail(fmt.Sprintf("verification failed with %d finding(s)", len(report.Findings)), "verify.failed", EXIT_FAILED)
	}
	return EXIT_OK
}

// exitCodeFor is app/cli/common.exit_code_for by the error's code.
func exitCodeFor(code string) int {
	switch {
	case strings.HasPrefix(code, "input.") || strings.HasPrefix(code, "conflict") || code == "cli.usage":
		return EXIT_INPUT
	default:
		return EXIT_FAILED
	}
}

// pyOptional is f"{value}" of an optional str: None when absent.
func pyOptional(p *string) string {
	if p == nil {
		return "None"
	}
	return *p
}

func pyInt(p *int64) string {
	if p == nil {
		return "None"
	}
	return strconv.FormatInt(*p, 10)
}

// printReport is ledger_cmds._print_findings and the bundle summary of _verify_bundle.
func printReport(w io.Writer, r *BundleReport) {
	for _, f := range r.Findings {
		line := fmt.Sprintf("FAIL index %s: %s: %s", strings.Replace(pyInt(f.Index), "None", "-", 1), f.Code, f.Message)
		if f.Expected != nil || f.Found != nil {
			line += fmt.Sprintf(" (expected %s, found %s)", pyOptional(f.Expected), pyOptional(f.Found))
		}
		fmt.Fprintln(w, line)
	}
	for _, warning := range r.Warnings {
		fmt.Fprintf(w, "WARN index %s: %s\n", pyInt(warning.Index), warning.Message)
	}
	if r.VkeyPinned {
		fmt.Fprintf(w, "log key: %s (pinned)\n", r.Vkey)
	} else {
		fmt.Fprintf(w, "log key: %s — NOT pinned: taken from the bundle's log.vkey; compare it with the published key or pass --vkey\n", r.Vkey)
	}
	if r.Witnesses != 0 {
		fmt.Fprintf(w, "cosignatures: %d of %d trusted witnesses (%d required)\n", len(r.Cosignatures), r.Witnesses, r.RequiredCosignatures)
	}
	kind := "full bundle"
	if r.Partial {
		kind = "partial bundle"
	}
	about := ""
	if len(r.Subjects) > 0 {
		about = " about " + strings.Join(r.Subjects, ", ")
	}
	state := "valid"
	if !r.Valid() {
		state = fmt.Sprintf("INVALID: %d finding(s)", len(r.Findings))
	}
	fmt.Fprintf(w, "%s; %s%s: %d entries, checkpoint size %s, root %s\n", state, kind, about, r.Entries, pyInt(r.CheckpointSize), pyOptional(r.Root))
}

// --------------------------------------------------------------------------
// JSON output: BundleReport.as_dict as json.dumps(ensure_ascii=False) writes it
// (keys in as_dict order, ", " and ": " separators).

func jsonString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

func jsonOptString(b *strings.Builder, s *string) {
	if s == nil {
		b.WriteString("null")
	} else {
		jsonString(b, *s)
	}
}

func jsonOptInt(b *strings.Builder, n *int64) {
	if n == nil {
		b.WriteString("null")
	} else {
		b.WriteString(strconv.FormatInt(*n, 10))
	}
}

func jsonFindings(b *strings.Builder, findings []Finding) {
	b.WriteByte('[')
	for i, f := range findings {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`{"index": `)
		jsonOptInt(b, f.Index)
		b.WriteString(`, "code": `)
		jsonString(b, f.Code)
		b.WriteString(`, "message": `)
		jsonString(b, f.Message)
		b.WriteString(`, "expected": `)
		jsonOptString(b, f.Expected)
		b.WriteString(`, "found": `)
		jsonOptString(b, f.Found)
		b.WriteByte('}')
	}
	b.WriteByte(']')
}

func reportJSON(r *BundleReport) string {
	var b strings.Builder
	b.WriteString(`{"valid": ` + strconv.FormatBool(r.Valid()))
	b.WriteString(`, "bundle": `)
	jsonString(&b, r.Path)
	kind := "full"
	if r.Partial {
		kind = "partial"
	}
	b.WriteString(`, "kind": "` + kind + `"`)
	b.WriteString(`, "entries": ` + strconv.FormatInt(r.Entries, 10))
	b.WriteString(`, "checkpoint_size": `)
	jsonOptInt(&b, r.CheckpointSize)
	b.WriteString(`, "root": `)
	jsonOptString(&b, r.Root)
	b.WriteString(`, "origin": `)
	jsonOptString(&b, r.Origin)
	b.WriteString(`, "vkey": `)
	jsonString(&b, r.Vkey)
	b.WriteString(`, "vkey_pinned": ` + strconv.FormatBool(r.VkeyPinned))
	b.WriteString(`, "bundle_vkey": `)
	jsonString(&b, r.BundleVkey)
	b.WriteString(`, "witnesses": ` + strconv.Itoa(r.Witnesses))
	b.WriteString(`, "required_cosignatures": ` + strconv.Itoa(r.RequiredCosignatures))
	b.WriteString(`, "cosignatures": [`)
	for i, c := range r.Cosignatures {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`{"name": `)
		jsonString(&b, c.Name)
		fmt.Fprintf(&b, `, "key_id": "%08x", "timestamp": %d}`, c.KeyID, c.Timestamp)
	}
	b.WriteString(`], "subjects": [`)
	for i, s := range r.Subjects {
		if i > 0 {
			b.WriteString(", ")
		}
		jsonString(&b, s)
	}
	b.WriteString(`], "findings": `)
	jsonFindings(&b, r.Findings)
	b.WriteString(`, "warnings": `)
	jsonFindings(&b, r.Warnings)
	b.WriteByte('}')
	return b.String()
}
