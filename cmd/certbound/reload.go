package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/certbound/certbound/cmd/certbound/internal/server"
)

// reloadable are the serve flags that SIGHUP re-reads without a restart or a
// dropped connection. The rest (listen address, data dir, CA) need a restart.
var reloadable = []string{"log-level", "rate-limit-enroll", "rate-limit-token", "rate-limit-auth-failures"}

// reloadOnSIGHUP re-reads the reloadable settings on every SIGHUP and applies
// them. It returns a function that stops listening.
func reloadOnSIGHUP(cmd *cobra.Command, srv *server.Server, level *slog.LevelVar, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
			}
			if err := reload(cmd, srv, level); err != nil {
				log.Error("SIGHUP: reload failed; the previous settings stay", slog.Any("err", err))
				continue
			}
			log.Info("SIGHUP: reloaded", slog.String("log_level", level.Level().String()))
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}

func reload(cmd *cobra.Command, srv *server.Server, level *slog.LevelVar) error {
	v, err := reloadValues(cmd)
	if err != nil {
		return err
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(v["log-level"])); err != nil {
		return fmt.Errorf("log-level: %w", err)
	}
	rates := make([]float64, 3)
	for i, name := range reloadable[1:] {
		if rates[i], err = strconv.ParseFloat(v[name], 64); err != nil || rates[i] < 0 {
			return fmt.Errorf("%s: %q is not a rate", name, v[name])
		}
	}
	level.Set(lv)
	srv.SetRateLimits(rates[0], rates[1], rates[2])
	return nil
}

// reloadValues returns each reloadable setting with the start-up precedence:
// the command line (fixed for the process), then the environment (fixed too),
// then the --config file as it is now, then the default.
func reloadValues(cmd *cobra.Command) (map[string]string, error) {
	var file map[string]any
	if f := cmd.Flag("config"); f != nil && f.Value.String() != "" {
		data, err := os.ReadFile(f.Value.String())
		if err != nil {
			return nil, err
		}
		if err := yaml.Unmarshal(data, &file); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Value.String(), err)
		}
	}
	out := map[string]string{}
	for _, name := range reloadable {
		f := cmd.Flags().Lookup(name)
		switch v, inEnv := os.LookupEnv(envName(name)); {
		case f.Changed:
			out[name] = f.Value.String()
		case inEnv:
			out[name] = v
		case file[name] != nil:
			out[name] = fmt.Sprint(file[name])
		default:
			out[name] = f.DefValue
		}
	}
	return out, nil
}
