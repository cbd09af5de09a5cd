/*
 * witness-proc-events: every program started and every process ended on this Linux machine, from the kernel's
 * process-event connector (netlink, PROC_EVENT_FORK/EXEC/EXIT), as one JSON line per event on stdout.
 *
 * It exists because Node cannot open a netlink socket, and because a process of a few milliseconds is gone
 * before a poller looks: on each exec this helper reads /proc/PID/{cmdline,exe,comm,status} (and, for the
 * session's user only, the WITNESS_SESSION and DISPLAY entries of its environment) the moment the kernel says
 * so. Listening needs CAP_NET_ADMIN: give it to this binary alone (setcap cap_net_admin+ep), never to node.
 *
 * Output (docs/launcher.md, "Processes"), byte strings as lowercase hex so every byte survives exactly:
 *   {"e":"ready","filtered":true|false}
 *   {"e":"fork","pid":N,"ppid":N,"ns":T}
 *   {"e":"exec","pid":N,"ns":T,"ppid":N,"uid":N,"comm":"hex","exe":"hex","argv":"hex","argvBytes":N
 *    [,"environBytes":N[,"session":"hex"][,"display":"hex"]]}
 *                                               argv = /proc/PID/cmdline, at most --max-argv bytes of it; the
 *                                               environment is read for the --uid user's processes only
 *   {"e":"exit","pid":N,"ns":T,"code":N|"signal":N}
 *   {"e":"lost"}                                   the kernel dropped events (the socket's buffer overflowed)
 * T is the kernel's CLOCK_MONOTONIC in ns. Exit status: 0 after SIGTERM/SIGINT or when stdout closes; 2 bad
 * arguments; 3 not permitted (no CAP_NET_ADMIN); 4 no process-event connector in this kernel; 1 other errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Linux 6.6+ takes an event filter with the subscription; older headers lack the struct. */
struct witness_proc_input {
  enum proc_cn_mcast_op mcast_op;
  uint32_t event_type;
};

static size_t max_argv = 128 * 1024;
static long session_uid = -1;
static volatile sig_atomic_t stopping = 0;
static unsigned char *scratch;
static size_t scratch_size;
static char *hexbuf;

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

/* Reads up to `limit` bytes of /proc/PID/NAME into scratch; returns the count (-1 if unreadable) and, in
 * *total, how many bytes the file holds (read on, discarding, past the limit). */
static ssize_t read_proc(int pid, const char *name, size_t limit, size_t *total) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", pid, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t got = 0, all = 0;
  for (;;) {
    unsigned char discard[4096];
    unsigned char *into = got < limit ? scratch + got : discard;
    size_t room = got < limit ? limit - got : sizeof discard;
    ssize_t n = read(fd, into, room);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    all += (size_t)n;
    if (got < limit) got += (size_t)n;
  }
  close(fd);
  if (total) *total = all;
  return (ssize_t)got;
}

static void put_hex(const char *key, const unsigned char *bytes, size_t len) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    hexbuf[2 * i] = digits[bytes[i] >> 4];
    hexbuf[2 * i + 1] = digits[bytes[i] & 15];
  }
  printf(",\"%s\":\"%.*s\"", key, (int)(2 * len), hexbuf);
}

/* The first number after `field` in /proc/PID/status (Uid: gives the real uid), or -1. */
static long status_field(const unsigned char *status, size_t len, const char *field) {
  size_t flen = strlen(field);
  for (size_t i = 0; i + flen < len; i++) {
    if ((i == 0 || status[i - 1] == '\n') && memcmp(status + i, field, flen) == 0) {
      return strtol((const char *)status + i + flen, NULL, 10);
    }
  }
  return -1;
}

/* The session's markers in the environment: only WITNESS_SESSION and DISPLAY are printed. */
static void put_environment(int pid) {
  ssize_t n = read_proc(pid, "environ", 256 * 1024, NULL);
  /* 0 or -1: gone (a zombie shows no environment) — the launcher then judges it by its parent. */
  printf(",\"environBytes\":%zd", n);
  for (ssize_t i = 0; i < n;) {
    const unsigned char *entry = scratch + i;
    size_t len = strnlen((const char *)entry, (size_t)(n - i));
    if (len > 16 && memcmp(entry, "WITNESS_SESSION=", 16) == 0) put_hex("session", entry + 16, len - 16 > 255 ? 255 : len - 16);
    if (len > 8 && memcmp(entry, "DISPLAY=", 8) == 0) put_hex("display", entry + 8, len - 8 > 255 ? 255 : len - 8);
    i += (ssize_t)len + 1;
  }
}

/* What goes first goes at the exit (the program's memory: its path, arguments and environment); its status and
 * name stay readable while it is a zombie, so they come last. */
static void on_exec(int pid, unsigned long long ns) {
  char exe[4096];
  char link[64];
  snprintf(link, sizeof link, "/proc/%d/exe", pid);
  ssize_t e = readlink(link, exe, sizeof exe);
  size_t total = 0;
  ssize_t argc = read_proc(pid, "cmdline", max_argv, &total);
  /* scratch holds the arguments until they are printed: status and environ go to the second half. */
  unsigned char *status = scratch + max_argv;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  ssize_t n = -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    n = read(fd, status, 4096);
    close(fd);
  }
  long ppid = n > 0 ? status_field(status, (size_t)n, "PPid:") : -1;
  long uid = n > 0 ? status_field(status, (size_t)n, "Uid:") : -1;
  printf("{\"e\":\"exec\",\"pid\":%d,\"ns\":%llu,\"ppid\":%ld,\"uid\":%ld", pid, ns, ppid, uid);
  put_hex("exe", (const unsigned char *)exe, e > 0 ? (size_t)e : 0);
  put_hex("argv", scratch, argc > 0 ? (size_t)argc : 0);
  printf(",\"argvBytes\":%zu", total);
  if (uid >= 0 && uid == session_uid) put_environment(pid);
  n = read_proc(pid, "comm", 64, NULL);
  if (n > 0 && scratch[n - 1] == '\n') n--;
  put_hex("comm", scratch, n > 0 ? (size_t)n : 0);
  fputs("}\n", stdout);
}

static int subscribe(int sock, int filtered) {
  struct {
    struct nlmsghdr nl;
    struct cn_msg cn;
    struct witness_proc_input input;
  } __attribute__((packed)) msg;
  memset(&msg, 0, sizeof msg);
  size_t payload = filtered ? sizeof msg.input : sizeof msg.input.mcast_op;
  msg.nl.nlmsg_len = (uint32_t)(sizeof msg.nl + sizeof msg.cn + payload);
  msg.nl.nlmsg_type = NLMSG_DONE;
  msg.nl.nlmsg_pid = (uint32_t)getpid();
  msg.cn.id.idx = CN_IDX_PROC;
  msg.cn.id.val = CN_VAL_PROC;
  msg.cn.len = (uint16_t)payload;
  msg.input.mcast_op = PROC_CN_MCAST_LISTEN;
  msg.input.event_type = PROC_EVENT_FORK | PROC_EVENT_EXEC | PROC_EVENT_EXIT;
  return send(sock, &msg, msg.nl.nlmsg_len, 0) < 0 ? -1 : 0;
}

/* One datagram from the connector: its events, printed. */
static void handle(const char *buf, ssize_t len) {
  for (const struct nlmsghdr *nl = (const struct nlmsghdr *)buf; NLMSG_OK(nl, (size_t)len); nl = NLMSG_NEXT(nl, len)) {
    if (nl->nlmsg_type == NLMSG_ERROR || nl->nlmsg_type == NLMSG_NOOP) continue;
    const struct cn_msg *cn = NLMSG_DATA(nl);
    if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC) continue;
    const struct proc_event *ev = (const struct proc_event *)cn->data;
    unsigned long long ns = (unsigned long long)ev->timestamp_ns;
    switch (ev->what) {
    case PROC_EVENT_FORK:
      /* A new thread is no new process. */
      if (ev->event_data.fork.child_pid != ev->event_data.fork.child_tgid) break;
      printf("{\"e\":\"fork\",\"pid\":%d,\"ppid\":%d,\"ns\":%llu}\n", ev->event_data.fork.child_tgid,
             ev->event_data.fork.parent_tgid, ns);
      break;
    case PROC_EVENT_EXEC:
      on_exec(ev->event_data.exec.process_tgid, ns);
      break;
    case PROC_EVENT_EXIT: {
      if (ev->event_data.exit.process_pid != ev->event_data.exit.process_tgid) break;
      unsigned status = ev->event_data.exit.exit_code;
      if ((status & 0x7f) == 0)
        printf("{\"e\":\"exit\",\"pid\":%d,\"ns\":%llu,\"code\":%u}\n", ev->event_data.exit.process_tgid, ns,
               (status >> 8) & 0xff);
      else
        printf("{\"e\":\"exit\",\"pid\":%d,\"ns\":%llu,\"signal\":%u}\n", ev->event_data.exit.process_tgid, ns,
               status & 0x7f);
      break;
    }
    default:
      break;
    }
  }
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--uid") == 0 && i + 1 < argc) session_uid = strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--max-argv") == 0 && i + 1 < argc) max_argv = strtoul(argv[++i], NULL, 10);
    else {
      fprintf(stderr, "usage: witness-proc-events [--uid UID] [--max-argv BYTES]\n");
      return 2;
    }
  }
  if (max_argv < 256) max_argv = 256;
  scratch_size = max_argv + 256 * 1024; /* the arguments, then a status or an environment */
  scratch = malloc(scratch_size);
  hexbuf = malloc(2 * scratch_size + 1);
  if (!scratch || !hexbuf) return 1;
  prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the launcher */
  /* Woken first where allowed (root, CAP_SYS_NICE): the sooner it reads, the shorter a process it sees whole.
   * Without the right this fails, harmlessly. It sleeps in the kernel otherwise. */
  setpriority(PRIO_PROCESS, 0, -10);
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  static char out[1 << 20];
  setvbuf(stdout, out, _IOFBF, sizeof out);

  int sock = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
  if (sock < 0) {
    fprintf(stderr, "witness-proc-events: netlink socket: %s\n", strerror(errno));
    return errno == EPROTONOSUPPORT || errno == EAFNOSUPPORT ? 4 : 1;
  }
  int rcvbuf = 8 << 20; /* bursts of forks must not overflow it; FORCE needs CAP_NET_ADMIN, which we have */
  if (setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_nl addr = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = (uint32_t)getpid()};
  if (bind(sock, (struct sockaddr *)&addr, sizeof addr) < 0) {
    int err = errno;
    fprintf(stderr, "witness-proc-events: joining the process-event connector: %s\n", strerror(err));
    return err == EPERM || err == EACCES ? 3 : err == ENOENT || err == EPROTONOSUPPORT ? 4 : 1;
  }

  /* Linux 6.6+ filters to fork/exec/exit in the kernel. An older kernel ignores that request without a word
   * (no acknowledgement either way, so the version decides): it gets the plain subscription, and the other
   * events are dropped here. */
  char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
  struct utsname uts;
  int major = 0, minor = 0;
  if (uname(&uts) == 0) sscanf(uts.release, "%d.%d", &major, &minor);
  int filtered = major > 6 || (major == 6 && minor >= 6);
  if (subscribe(sock, filtered) < 0) {
    int err = errno;
    fprintf(stderr, "witness-proc-events: subscribing: %s\n", strerror(err));
    return err == EPERM ? 3 : 1;
  }
  printf("{\"e\":\"ready\",\"filtered\":%s}\n", filtered ? "true" : "false");
  fflush(stdout);

  /* SIGTERM is let through only while waiting in ppoll, so it cannot slip in between a check and a wait. */
  sigset_t blocked, waiting;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  sigprocmask(SIG_BLOCK, &blocked, &waiting);
  while (!stopping) {
    ssize_t len = recv(sock, buf, sizeof buf, MSG_DONTWAIT);
    if (len < 0 && errno == EAGAIN) {
      /* Nothing waiting: hand what we have to the launcher, then sleep until the kernel speaks. */
      if (fflush(stdout) == EOF || ferror(stdout)) break;
      struct pollfd pfd = {.fd = sock, .events = POLLIN};
      ppoll(&pfd, 1, NULL, &waiting);
      continue;
    }
    if (len < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        fputs("{\"e\":\"lost\"}\n", stdout);
        continue;
      }
      fprintf(stderr, "witness-proc-events: recv: %s\n", strerror(errno));
      return 1;
    }
    handle(buf, len);
    if (ferror(stdout)) break;
  }
  /* Stopped: what the kernel already queued (the last exits of the session) still goes out. */
  ssize_t len;
  while ((len = recv(sock, buf, sizeof buf, MSG_DONTWAIT)) > 0) handle(buf, len);
  fflush(stdout);
  return 0;
}
