// Package proc runs `certbound serve` as a child process on 127.0.0.1 and
// meters it from the outside, the way an operator would see it: CPU time
// (utime+stime of /proc/<pid>/stat, so every thread, the garbage collector
// and the kernel's share of its syscalls count), resident memory (VmRSS,
// VmHWM of /proc/<pid>/status) and start time (exec until GET /v1/health
// answers 200). It only ever signals the process it started.
package proc
