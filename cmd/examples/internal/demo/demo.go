package demo

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/cmd/examples/internal/tasks"
	"github.com/certbound/certbound/enroll/enrollclient"
)

// Config configures Run.
type Config struct {
	// Bin is the directory holding the certbound, taskservice and
	// calendarservice binaries.
	Bin string
	// Out receives the story. Nil means os.Stdout.
	Out io.Writer
	// Keep leaves the temporary directory (data dir, identities, logs) in
	// place and says where it is. The zero value removes it.
	Keep bool
}

// ErrCheck: a step did not behave as the demo says it should.
var ErrCheck = errors.New("demo: check failed")

// Run plays the scenario. It returns nil only if every check passed.
func Run(ctx context.Context, cfg Config) (err error) {
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	d := &demo{cfg: cfg, w: cfg.Out}
	for _, name := range []string{"certbound", "taskservice", "calendarservice"} {
		p, err := filepath.Abs(filepath.Join(cfg.Bin, name))
		if err != nil {
			return err
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("demo: %w (build it first: make demo)", err)
		}
		d.bins = append(d.bins, p)
	}
	d.dir, err = os.MkdirTemp("", "certbound-demo-")
	if err != nil {
		return err
	}
	defer d.cleanup(&err)
	return d.play(ctx)
}

type demo struct {
	cfg    Config
	w      io.Writer
	bins   []string // certbound, taskservice, calendarservice
	dir    string
	srv    *Server
	procs  []*Process // started, in order
	checks int
}

func (d *demo) play(ctx context.Context) error {
	d.say("certbound demo: the seed guide's Task Service → Calendar Service, with certificates")
	d.say("and certificate-bound tokens instead of shared secrets and bearer tokens.")
	d.say("Working in %s (removed at the end).", d.dir)

	// 1. The authorization server.
	d.step(1, "Start certbound on a fresh data dir (the seed's Step 1: enable OAuth2)")
	srv, err := StartServer(ctx, d.bins[0], filepath.Join(d.dir, "data"), filepath.Join(d.dir, "certbound.log"))
	if err != nil {
		return err
	}
	d.srv = srv
	d.procs = append(d.procs, srv.Process)
	d.cmd("certbound " + strings.Join(srv.Args, " "))
	d.say("   On its first start certbound created a CA, a database and an admin key (%s),", filepath.Join("data", "admin.key"))
	d.say("   and serves %s. It logged the root fingerprint, which services pin to enroll:", srv.URL)
	d.say("     %s", srv.Fingerprint)
	d.say("   The admin commands below reach it through CERTBOUND_SERVER=%s", srv.URL)
	d.say("   and CERTBOUND_DATA_DIR=%s (for the admin key and the root to trust).", srv.DataDir)

	// 2. Clients.
	d.step(2, "Register both services as clients (the seed's Step 2, but no client secret)")
	if err := d.cli(ctx, true, "client", "create", "taskservice", "--scope", "event.create", "--audience", "event"); err != nil {
		return err
	}
	if err := d.cli(ctx, true, "client", "create", "calendarservice"); err != nil {
		return err
	}
	d.say("   taskservice may ask for scope event.create on audience event. It will prove who it is")
	d.say("   with its certificate (tls_client_auth, RFC 8705): there is no secret to leak.")
	d.say("   calendarservice only receives calls, so it gets no scope; it needs a certificate too.")

	// 3. Enrollment tokens.
	calendarID, err := certs.NewID(certs.DefaultTrustDomain, "calendarservice")
	if err != nil {
		return err
	}
	d.step(3, "Mint one-time enrollment tokens (15 minutes, single use)")
	calToken, err := d.mint(ctx, "calendarservice")
	if err != nil {
		return err
	}
	taskToken, err := d.mint(ctx, "taskservice")
	if err != nil {
		return err
	}
	d.say("   Neither token allows a DNS name: the task service will call the calendar service")
	d.say("   by its SPIFFE ID, %s, not by a host name.", calendarID)
	d.say("   Tokens travel to the services in CERTBOUND_TOKEN.")

	// 4. The calendar service.
	d.step(4, "Start the calendar service (the resource server)")
	calPort, err := FreePort()
	if err != nil {
		return err
	}
	calDir := filepath.Join(d.dir, "calendarservice")
	calURL := fmt.Sprintf("https://127.0.0.1:%d", calPort)
	calArgs := []string{"--server", srv.URL, "--fingerprint", srv.Fingerprint, "--identity-dir", calDir,
		"--listen", fmt.Sprintf("127.0.0.1:%d", calPort)}
	d.cmd("CERTBOUND_TOKEN=%s calendarservice %s", short(calToken), strings.Join(calArgs, " "))
	cal, err := StartProcess("calendarservice", filepath.Join(d.dir, "calendarservice.log"), d.bins[2], calArgs,
		[]string{"CERTBOUND_TOKEN=" + calToken.Reveal()})
	if err != nil {
		return err
	}
	d.procs = append(d.procs, cal)
	// Its health is asked for by its SPIFFE ID, with its own identity once it has one.
	var calHealth *http.Client
	if err := waitFor(ctx, cal, 30*time.Second, func() bool {
		if calHealth == nil {
			id, err := enrollclient.Load(calDir)
			if err != nil {
				return false
			}
			calHealth = id.HTTPClientFor(calendarID)
		}
		return healthy(ctx, calHealth, calURL+"/health")
	}); err != nil {
		return err
	}
	calID, err := enrollclient.Load(calDir)
	if err != nil {
		return err
	}
	d.say("   It enrolled: key.pem, cert.pem and ca.pem in %s, certificate for", calDir)
	d.say("   %s (no DNS name, valid until %s).", calID.ID, calID.NotAfter.Local().Format(time.RFC3339))
	d.say("   It found certbound's signing keys through %s/.well-known/oauth-authorization-server", srv.URL)
	d.say("   and serves %s, asking every caller for a client certificate.", calURL)
	d.say("   POST /events requires a token for audience event with scope event.create, bound to")
	d.say("   the certificate of the caller's own TLS connection.")

	// 5. The task service.
	d.step(5, "Run the task service once: enroll, get a bound token, POST /events (the seed's Step 7)")
	taskDir := filepath.Join(d.dir, "taskservice")
	tokenFile := filepath.Join(d.dir, "copied-access-token")
	taskArgs := []string{"--server", srv.URL, "--fingerprint", srv.Fingerprint, "--identity-dir", taskDir,
		"--calendar", calURL, "--calendar-id", calendarID.String(), "--once", "--token-out", tokenFile}
	d.cmd("CERTBOUND_TOKEN=%s taskservice %s", short(taskToken), strings.Join(taskArgs, " "))
	out, code, err := d.runOnce(ctx, d.bins[1], taskArgs, []string{"CERTBOUND_TOKEN=" + taskToken.Reveal()}, filepath.Join(d.dir, "taskservice.log"))
	if err != nil {
		return err
	}
	d.output(out)
	if err := d.check(code == 0 && strings.HasPrefix(out, "POST /events → 201"), "the calendar service answered 201 Created",
		"taskservice exited %d; its log:\n%s", code, indent(tail(filepath.Join(d.dir, "taskservice.log"), 15), "    ")); err != nil {
		return err
	}
	taskID, err := enrollclient.Load(taskDir)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(tokenFile)
	if err != nil {
		return err
	}
	stolen := secret.FromString(strings.TrimSpace(string(raw)))
	cnf, err := d.boundTo(ctx, stolen)
	if err != nil {
		return err
	}
	d.say("   What happened: taskservice enrolled (%s), sent its certificate to", taskID.ID)
	d.say("   certbound's token endpoint over mutual TLS, got an ES256 at+jwt access token for")
	d.say("   audience event and scope event.create, and sent it to the calendar service over a")
	d.say("   connection with the same certificate. certbound bound the token to that certificate:")
	d.say("     token %s, cnf.x5t#S256 = %s (from certbound's introspection)", short(stolen), cnf)
	d.say("     taskservice certificate x5t#S256 = %s", certs.X5tS256(taskID.Leaf().Raw))
	if err := d.check(cnf == certs.X5tS256(taskID.Leaf().Raw), "the token is bound to the task service's certificate", "cnf %q", cnf); err != nil {
		return err
	}

	// 6. The attacker.
	d.step(6, "An attacker copied that access token (from a log, a proxy, a heap dump...) and replays it")
	d.say("   With the seed's bearer tokens, whoever holds the token is let in. Here:")
	d.say("   (a) with no client certificate at all, as one would replay a bearer token")
	// The attacker does not care who the server is: it skips verification.
	attacker := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if err := d.replay(ctx, attacker, calURL, stolen, "Attacker's meeting", http.StatusUnauthorized); err != nil {
		return err
	}
	d.say("   (b) with another service's genuine certbound certificate. reportservice is a real,")
	d.say("       enrolled service the attacker controls:")
	if err := d.cli(ctx, false, "client", "create", "reportservice", "--scope", "report.read", "--audience", "report"); err != nil {
		return err
	}
	repToken, err := d.mint(ctx, "reportservice")
	if err != nil {
		return err
	}
	repDir := filepath.Join(d.dir, "reportservice")
	d.cmd("certbound enroll --fingerprint %s --token %s --out %s", srv.Fingerprint, short(repToken), repDir)
	if _, err := srv.CLI(ctx, "enroll", "--fingerprint", srv.Fingerprint, "--token", repToken.Reveal(), "--out", repDir); err != nil {
		return err
	}
	repID, err := enrollclient.Load(repDir)
	if err != nil {
		return err
	}
	d.say("       reportservice certificate x5t#S256 = %s", certs.X5tS256(repID.Leaf().Raw))
	if err := d.replay(ctx, repID.HTTPClientFor(calendarID), calURL, stolen, "Attacker's meeting", http.StatusUnauthorized); err != nil {
		return err
	}
	d.say("   (c) with the calendar service's own certificate and key (%s),", calID.ID)
	d.say("       say the attacker broke into the calendar service, which sees every token it receives")
	d.say("       calendarservice certificate x5t#S256 = %s", certs.X5tS256(calID.Leaf().Raw))
	if err := d.replay(ctx, calID.HTTPClientFor(calendarID), calURL, stolen, "Attacker's meeting", http.StatusUnauthorized); err != nil {
		return err
	}
	d.say("   Control: the same copied token with the task service's own certificate still works,")
	d.say("   so the refusals above are about the certificate, nothing else:")
	if err := d.replay(ctx, taskID.HTTPClientFor(calendarID), calURL, stolen, "Follow-up meeting", http.StatusCreated); err != nil {
		return err
	}

	d.say("")
	d.say("All %d checks passed: 201 for the task service, 401 for every replay of its token", d.checks)
	d.say("without its certificate. A stolen certbound token is useless without the private key.")
	return nil
}

// cleanup stops every process in reverse order and removes the directory.
func (d *demo) cleanup(runErr *error) {
	d.say("")
	if len(d.procs) > 0 {
		names := make([]string, 0, len(d.procs))
		for i := len(d.procs) - 1; i >= 0; i-- {
			d.procs[i].Stop()
			names = append(names, d.procs[i].Name)
		}
		d.say("Stopped %s.", strings.Join(names, ", "))
	}
	if *runErr != nil && len(d.procs) > 0 {
		for _, p := range d.procs {
			d.say("Last lines of %s's log:\n%s", p.Name, indent(p.Tail(10), "    "))
		}
	}
	if d.cfg.Keep {
		d.say("Kept %s (data dir, identities, logs).", d.dir)
		return
	}
	if err := os.RemoveAll(d.dir); err != nil && *runErr == nil {
		*runErr = err
	}
	d.say("Removed %s.", d.dir)
}

// cli runs a certbound admin command and shows it with its output.
func (d *demo) cli(ctx context.Context, show bool, args ...string) error {
	d.cmd("certbound " + strings.Join(args, " "))
	out, err := d.srv.CLI(ctx, args...)
	if err != nil {
		return err
	}
	if show {
		d.output(out)
	}
	return nil
}

// mint mints an enrollment token with the CLI, which prints it alone on stdout.
func (d *demo) mint(ctx context.Context, client string, extra ...string) (secret.Secret, error) {
	args := append([]string{"enroll-token", "create", "--client", client}, extra...)
	d.cmd("certbound " + strings.Join(args, " "))
	out, err := d.srv.CLI(ctx, args...)
	if err != nil {
		return secret.Secret{}, err
	}
	tok := strings.TrimSpace(out)
	if tok == "" || strings.ContainsAny(tok, " \n") {
		return secret.Secret{}, fmt.Errorf("%w: enroll-token create printed no single token", ErrCheck)
	}
	t := secret.FromString(tok)
	d.output(short(t) + "   (shortened here)")
	return t, nil
}

// runOnce runs bin to completion and returns its stdout and exit code; its
// stderr goes to logPath.
func (d *demo) runOnce(ctx context.Context, bin string, args, env []string, logPath string) (string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return "", 0, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logf
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode(), nil
	}
	if err != nil {
		return "", 0, err
	}
	return string(out), 0, nil
}

// replay sends the copied token to the calendar service with client hc and
// checks the status.
func (d *demo) replay(ctx context.Context, hc *http.Client, calURL string, token secret.Secret, title string, want int) error {
	res, err := tasks.PostEvent(ctx, hc, calURL+"/events", token, tasks.Event{Title: title, Date: "2025-03-26"})
	if err != nil {
		return err
	}
	d.output(fmt.Sprintf("POST /events → %d %s", res.Status, http.StatusText(res.Status)))
	if c := res.Header.Get("WWW-Authenticate"); c != "" {
		d.output("WWW-Authenticate: " + c)
	} else if len(res.Body) > 0 {
		d.output(strings.TrimSpace(string(res.Body)))
	}
	what := "refused with 401"
	if want == http.StatusCreated {
		what = "accepted with 201"
	}
	return d.check(res.Status == want, what, "got %d %s", res.Status, strings.TrimSpace(string(res.Body)))
}

// boundTo asks certbound (as the operator, with the admin key) which
// certificate thumbprint a token is bound to (RFC 7662 introspection).
func (d *demo) boundTo(ctx context.Context, token secret.Secret) (string, error) {
	key, err := os.ReadFile(filepath.Join(d.srv.DataDir, "admin.key"))
	if err != nil {
		return "", err
	}
	form := url.Values{"token": {token.Reveal()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.srv.URL+"/oauth2/introspect", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(key)))
	resp, err := d.srv.Client().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Active bool `json:"active"`
		Cnf    struct {
			X5t string `json:"x5t#S256"`
		} `json:"cnf"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("introspection: %d: %w", resp.StatusCode, err)
	}
	if !out.Active || out.Cnf.X5t == "" {
		return "", fmt.Errorf("%w: certbound says the token is not active or not bound (status %d)", ErrCheck, resp.StatusCode)
	}
	return out.Cnf.X5t, nil
}

func (d *demo) check(ok bool, what, failFormat string, args ...any) error {
	if !ok {
		fmt.Fprintf(d.w, "   FAIL: expected: %s\n", what)
		return fmt.Errorf("%w: expected %s; %s", ErrCheck, what, fmt.Sprintf(failFormat, args...))
	}
	d.checks++
	fmt.Fprintf(d.w, "   ok: %s\n", what)
	return nil
}

func (d *demo) step(n int, title string) {
	fmt.Fprintf(d.w, "\n[%d] %s\n", n, title)
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.w, format+"\n", args...)
}

func (d *demo) cmd(format string, args ...any) {
	fmt.Fprintf(d.w, "   $ "+format+"\n", args...)
}

func (d *demo) output(s string) {
	sc := bufio.NewScanner(strings.NewReader(strings.TrimRight(s, "\n")))
	for sc.Scan() {
		fmt.Fprintf(d.w, "     %s\n", sc.Text())
	}
}

// short shows the start of a secret, enough to recognise it.
func short(s secret.Secret) string {
	v := s.Reveal()
	if len(v) <= 12 {
		return "…"
	}
	return v[:12] + "…"
}

func tail(path string, n int) string {
	return (&Process{Log: path}).Tail(n)
}
