package main

import (
	"log/slog"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// notify tells systemd (Type=notify) about pop3d's state; outside systemd
// (no NOTIFY_SOCKET) it does nothing.
func notify(logger *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		logger.Warn("pop3d: sd_notify failed", "state", state, "err", err)
	}
}

// notifyReady tells systemd that pop3d serves and, when the unit has
// WatchdogSec=, pings the watchdog at half its interval until the returned
// func is called (once or more).
func notifyReady(logger *slog.Logger) (stop func()) {
	notify(logger, "READY=1")
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		logger.Warn("pop3d: bad watchdog settings from systemd", "err", err)
	}
	if interval <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				notify(logger, "WATCHDOG=1")
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-stopped
		})
	}
}
