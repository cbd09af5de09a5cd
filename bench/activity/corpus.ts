/**
 * Made-up but plausible activity for the search benchmark: admins on servers typing shell commands, starting
 * processes and moving between windows. Words come from a vocabulary of ~5,000 tokens (commands, hostnames,
 * paths, package names, users, ticket ids, English words) drawn with Zipf-like frequencies, so a search finds
 * some words everywhere and others in a handful of events. Seeded: the same arguments give the same data.
 */
import type { ActivityEvent } from '../../protocol/activity.ts';

/** mulberry32: small, fast, good enough for test data. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;

/** A list drawn from with Zipf-like weights (rank r has weight 1/r^s): early entries are common. */
class Zipf<T> {
  readonly items: readonly T[];
  readonly #cumulative: Float64Array;

  constructor(items: readonly T[], s = 1) {
    this.items = items;
    this.#cumulative = new Float64Array(items.length);
    let total = 0;
    for (let i = 0; i < items.length; i++) {
      total += 1 / (i + 1) ** s;
      this.#cumulative[i] = total;
    }
    for (let i = 0; i < items.length; i++) this.#cumulative[i] = (this.#cumulative[i] as number) / total;
  }

  pick(random: Random): T {
    const x = random();
    let lo = 0;
    let hi = this.items.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.#cumulative[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return this.items[lo] as T;
  }
}

function shuffled<T>(items: readonly T[], random: Random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

const COMMANDS = `ls cd cat less tail head grep sudo systemctl journalctl kubectl docker git ssh scp rsync vim nano psql
mysql redis-cli curl wget apt yum dnf pip npm terraform ansible-playbook helm openssl tcpdump netstat ss ip iptables
chmod chown find du df top htop ps kill pkill tar gzip unzip cp mv rm mkdir ln awk sed sort uniq wc xargs watch
crontab useradd usermod passwd visudo mount umount lsblk fdisk mkfs fsck lsof strace dmesg uptime free vmstat iostat
sar nslookup dig host ping traceroute mtr nc telnet ftp sftp screen tmux history export env which whereis file stat
md5sum sha256sum base64 jq yq make gcc python3 node java mvn gradle go cargo rustc podman crictl etcdctl consul vault
nomad aws az gcloud certbot nginx apachectl haproxy supervisorctl pg_dump pg_restore mongodump mongosh kafka-topics`
  .split(/\s+/)
  .filter(Boolean);

const SUBCOMMANDS = `status restart start stop reload enable disable logs get describe apply delete exec rollout edit
scale top pods deployments services nodes ingress configmap secret namespaces pull push commit checkout log diff fetch
merge rebase branch clone install remove update upgrade list show search info inspect ps images run build tag login
plan init validate output state import version config set unset -la -lh -f -n -r -rf -v -vv -it -p -u -o -xzf -czf
--namespace --follow --tail --since --force --all --help --dry-run --output=json --recursive --verbose -A -l -h -t`
  .split(/\s+/)
  .filter(Boolean);

const ROLES = `db web api cache queue auth vault bastion jump build ci mon log mail dns ldap node etcd redis pg mongo
kafka zk es nfs backup proxy lb gw vpn app worker batch sftp smtp ntp radius git registry artifact`
  .split(/\s+/)
  .filter(Boolean);
const ENVS = ['prod', 'stage', 'dev', 'qa', 'dr', 'uat'];
const SITES = ['eu-west-1', 'eu-central-1', 'us-east-1', 'us-west-2', 'ap-south-1', 'fra1', 'ams3', 'lon1'];

const PACKAGE_STEMS = `ssl curl xml2 yaml json pcre zlib bz2 lzma ffi sqlite3 readline ncurses png jpeg tiff freetype
fontconfig gtk3 glib2 dbus systemd udev pam krb5 ldap sasl2 gnutls nss nspr event uv ev hiredis pq mysqlclient
boost protobuf grpc snappy zstd lz4 brotli nghttp2 idn2 unistring gmp mpfr mpc isl elf dw unwind cap seccomp selinux
apparmor audit acl attr blkid mount uuid fdisk smartcols kmod crypt gcrypt gpg-error assuan ksba npth`
  .split(/\s+/)
  .filter(Boolean);
const NPM_PACKAGES = `express react lodash axios moment webpack babel eslint prettier typescript jest mocha chalk
commander yargs dotenv cors helmet morgan winston pino knex sequelize mongoose redis ioredis pg mysql2 sharp
puppeteer playwright vite rollup esbuild next nuxt vue svelte angular rxjs zod hono fastify koa socket.io ws uuid
dayjs luxon date-fns bcrypt jsonwebtoken passport nodemailer multer formidable busboy cheerio jsdom marked`
  .split(/\s+/)
  .filter(Boolean);
const PY_PACKAGES = `requests numpy pandas flask django fastapi uvicorn gunicorn celery boto3 botocore paramiko
fabric ansible pyyaml jinja2 sqlalchemy psycopg2 pymysql redis-py kafka-python pytest black ruff mypy pydantic
cryptography pyopenssl certifi urllib3 idna chardet six setuptools wheel virtualenv poetry pipenv click rich`
  .split(/\s+/)
  .filter(Boolean);

const FIRST = `anna ben carla david eva frank gina hugo ines jan karl lena marc nina oscar paula quinn rosa sven tara
uwe vera walter xenia yusuf zoe ahmed bianca chen dmitri elif fatima goran hana igor jun kofi lars maria nils olga
pedro rania sami timo ulla viktor wen`
  .split(/\s+/)
  .filter(Boolean);
const LAST = `muller schmidt schneider fischer weber meyer wagner becker schulz hoffmann koch richter klein wolf
neumann schwarz braun zimmermann kruger hartmann lange werner krause lehmann kohler maier`
  .split(/\s+/)
  .filter(Boolean);

const WORDS = `the a to of and for in on with is it that this please check restart deploy rollback patch window
maintenance incident outage customer ticket change approved review urgent fix issue error warning failed success
timeout latency disk full memory leak cpu spike certificate expired renew rotate key password reset account locked
access granted revoked audit compliance report quarterly invoice budget meeting notes draft final backup restore
snapshot replica primary failover cluster upgrade migration schema index vacuum analyze query slow lock deadlock
connection pool limit quota alert pager oncall escalate resolved monitoring dashboard metrics grafana prometheus
kibana splunk datadog jenkins gitlab github jira confluence slack teams zoom outlook excel word powerpoint firewall
rule port open closed blocked allow deny vpn tunnel route gateway subnet vlan dhcp dns record ttl cname mx spf dkim
load balancer health probe endpoint service container image registry tag release hotfix feature branch merge
request pipeline stage job runner artifact cache volume mount permission owner group sudoers cron schedule daily
weekly nightly retention purge archive export import sync transfer upload download bucket object storage quota
billing license vendor contract renewal support case priority severity impact root cause analysis postmortem`
  .split(/\s+/)
  .filter(Boolean);

const DIRS = `/etc /etc/nginx /etc/ssh /etc/systemd/system /etc/pam.d /etc/ssl/certs /var/log /var/log/nginx
/var/lib/postgresql /var/lib/docker /var/lib/mysql /opt /opt/app /opt/app/releases /srv /srv/www /usr/local/bin
/usr/bin /usr/sbin /tmp /root /home /var/spool/cron /etc/kubernetes /etc/haproxy /etc/prometheus /data /backup`
  .split(/\s+/)
  .filter(Boolean);
const FILE_STEMS = `config settings nginx sshd_config haproxy prometheus alertmanager docker-compose values secrets
app server worker deploy backup restore cleanup rotate migrate healthcheck install bootstrap inventory hosts
syslog messages auth kern access error audit secure cron postgresql pg_hba mysqld redis sentinel grafana
kubelet kubeadm etcd calico coredns ingress certificate fullchain privkey authorized_keys known_hosts`
  .split(/\s+/)
  .filter(Boolean);
const EXTENSIONS = [
  'conf',
  'yaml',
  'yml',
  'json',
  'log',
  'sh',
  'py',
  'service',
  'pem',
  'crt',
  'ini',
  'env',
  'toml',
  '',
];

/** Everything a generator draws words from, each list in Zipf order (earlier = more common). */
export interface Vocabulary {
  commands: Zipf<string>;
  subcommands: Zipf<string>;
  hosts: Zipf<string>;
  packages: Zipf<string>;
  users: Zipf<string>;
  files: Zipf<string>;
  words: Zipf<string>;
  tickets: Zipf<string>;
  /** Every distinct token, for reporting the vocabulary's size. */
  size: number;
}

export function buildVocabulary(seed: number): Vocabulary {
  const random = seededRandom(seed);
  const hosts = shuffled(
    ROLES.flatMap((role) =>
      ENVS.flatMap((env) => Array.from({ length: 8 }, (_, i) => `${role}-${env}-${String(i + 1).padStart(2, '0')}`)),
    ),
    random,
  ).slice(0, 1900);
  const fqdn = hosts.map((h, i) => (i % 3 === 0 ? `${h}.${SITES[i % SITES.length]}.corp.example` : h));
  const packages = shuffled(
    unique([
      ...PACKAGE_STEMS.flatMap((s) => [`lib${s}-dev`, `lib${s}`, `${s}-utils`]),
      ...NPM_PACKAGES.flatMap((p) => [p, `@types/${p}`, `${p}-plugin`]),
      ...PY_PACKAGES.flatMap((p) => [p, `python3-${p}`]),
    ]),
    random,
  );
  const users = shuffled(
    FIRST.flatMap((f) => LAST.slice(0, 9).map((l) => `${f}.${l}`)),
    random,
  );
  const files = shuffled(
    unique(
      DIRS.flatMap((dir) =>
        shuffled(FILE_STEMS, random)
          .slice(0, 40)
          .map((stem, i) => {
            const ext = EXTENSIONS[i % EXTENSIONS.length] as string;
            return `${dir}/${stem}${ext ? `.${ext}` : ''}`;
          }),
      ),
    ),
    random,
  );
  const tickets = Array.from({ length: 600 }, (_, i) =>
    i % 2 === 0 ? `INC${String(4_100_000 + i * 37).padStart(7, '0')}` : `OPS-${1000 + i * 13}`,
  );
  const size = unique([
    ...COMMANDS,
    ...SUBCOMMANDS,
    ...fqdn,
    ...packages,
    ...users,
    ...files,
    ...WORDS,
    ...tickets,
  ]).length;
  return {
    commands: new Zipf(COMMANDS),
    subcommands: new Zipf(SUBCOMMANDS),
    hosts: new Zipf(fqdn),
    packages: new Zipf(packages),
    users: new Zipf(users),
    files: new Zipf(files),
    words: new Zipf(WORDS),
    tickets: new Zipf(tickets),
    size,
  };
}

const BUILTINS = new Set(['cd', 'export', 'history']);
const TERMINALS = ['xterm', 'gnome-terminal-server', 'konsole', 'putty', 'mintty'];
const GUI_APPS: Array<{ app: string; title: (v: Vocabulary, r: Random) => string }> = [
  { app: 'firefox', title: (v, r) => `Grafana - ${v.hosts.pick(r)} - Mozilla Firefox` },
  { app: 'firefox', title: (v, r) => `${v.tickets.pick(r)}: ${sentence(v, r, 4)} - Jira - Mozilla Firefox` },
  { app: 'chromium', title: (v, r) => `${v.words.pick(r)} ${v.words.pick(r)} - Confluence - Chromium` },
  { app: 'code', title: (v, r) => `${basename(v.files.pick(r))} - ${v.hosts.pick(r)} - Visual Studio Code` },
  { app: 'remmina', title: (v, r) => `${v.hosts.pick(r)} - Remmina` },
  { app: 'keepassxc', title: () => 'Passwords.kdbx - KeePassXC' },
  { app: 'thunderbird', title: (v, r) => `${sentence(v, r, 5)} - Inbox - Thunderbird` },
];

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function sentence(v: Vocabulary, r: Random, words: number): string {
  return Array.from({ length: words }, () => v.words.pick(r)).join(' ');
}

/** A command line an admin might type, with an argument or two from the vocabulary. */
function commandLine(v: Vocabulary, r: Random): string {
  const command = v.commands.pick(r);
  const x = r();
  if (x < 0.25) return `${command} ${v.subcommands.pick(r)} ${v.files.pick(r)}`;
  if (x < 0.4) return `${command} ${v.subcommands.pick(r)} ${v.hosts.pick(r)}`;
  if (x < 0.5) return `${command} ${v.subcommands.pick(r)} ${v.packages.pick(r)}`;
  if (x < 0.6) return `ssh ${v.users.pick(r)}@${v.hosts.pick(r)}`;
  if (x < 0.7) return `${command} ${v.subcommands.pick(r)} ${v.subcommands.pick(r)} ${v.words.pick(r)}`;
  if (x < 0.75) return `git commit -m "${v.tickets.pick(r)} ${sentence(v, r, 3)}"`;
  if (x < 0.8) return `${command} ${v.files.pick(r)} | grep ${v.words.pick(r)}`;
  return `${command} ${v.subcommands.pick(r)}`;
}

/** What a keystroke run looks like: the command with an occasional correction, tab completion or abort. */
function typed(line: string, r: Random): string {
  const x = r();
  if (x < 0.1) return `${line.slice(0, -2)}<BackSpace><BackSpace>${line.slice(-2)}<Enter>`;
  if (x < 0.15) return `${line.slice(0, Math.max(1, line.length - 4))}<Tab><Enter>`;
  if (x < 0.18) return `${line}<Ctrl+C>`;
  return `${line}<Enter>`;
}

export interface SessionPlan {
  user: string;
  target: string;
  events: number;
  /** Session-clock span the events are spread over. */
  durationMs: number;
  seed: number;
}

/** One session's events in time order. */
export function sessionEvents(v: Vocabulary, plan: SessionPlan): ActivityEvent[] {
  const r = seededRandom(plan.seed);
  const events: ActivityEvent[] = [];
  const step = plan.durationMs / (plan.events + 1);
  let at = 0;
  let pid = 1000 + Math.floor(r() * 30_000);
  const running: Array<{ pid: number; name: string; path: string; startedAtMs: number }> = [];
  const terminal = TERMINALS[Math.floor(r() * TERMINALS.length)] as string;
  const shellUser = plan.user;
  let focused = { title: `${shellUser}@${plan.target}: ~`, app: terminal };
  while (events.length < plan.events) {
    at = Math.min(plan.durationMs, Math.round(at + step * (0.2 + 1.6 * r())));
    const x = r();
    if (x < 0.17) {
      // Focus moves: back to the terminal (with the directory in its title) or to another application.
      if (r() < 0.5) {
        focused = { title: `${shellUser}@${plan.target}: ${v.files.pick(r).replace(/\/[^/]*$/, '')}`, app: terminal };
      } else {
        const gui = GUI_APPS[Math.floor(r() * GUI_APPS.length)] as (typeof GUI_APPS)[number];
        focused = { title: gui.title(v, r), app: gui.app };
      }
      events.push({ type: 'window.focus', atMs: at, title: focused.title, app: focused.app, pid: pid++ });
    } else if (x < 0.37) {
      let line = commandLine(v, r);
      // Shell builtins start no process.
      while (BUILTINS.has(line.split(' ')[0] as string)) line = commandLine(v, r);
      const name = line.split(' ')[0] as string;
      const path = `${r() < 0.7 ? '/usr/bin' : '/usr/local/bin'}/${name}`;
      const started = { pid: pid++, name, path, startedAtMs: at };
      running.push(started);
      events.push({
        type: 'process.start',
        atMs: at,
        pid: started.pid,
        ppid: 1,
        name,
        path,
        commandLine: line,
        user: r() < 0.3 ? 'root' : shellUser,
      });
    } else if (x < 0.55 && running.length > 0) {
      const stopped = running.splice(Math.floor(r() * running.length), 1)[0] as (typeof running)[number];
      events.push({
        type: 'process.stop',
        atMs: at,
        pid: stopped.pid,
        name: stopped.name,
        path: stopped.path,
        user: shellUser,
        startedAtMs: stopped.startedAtMs,
      });
    } else if (x < 0.565) {
      // A password prompt: what was typed is stored as <redacted> (docs/activity.md).
      events.push({
        type: 'keys',
        atMs: at,
        endMs: at + 800,
        text: '<redacted>',
        window: { title: `[sudo] password for ${shellUser}`, app: terminal },
        redacted: true,
      });
    } else {
      const text =
        focused.app === terminal ? typed(commandLine(v, r), r) : `${sentence(v, r, 3 + Math.floor(r() * 8))}`;
      events.push({ type: 'keys', atMs: at, endMs: at + 200 + text.length * 120, text, window: focused });
    }
  }
  return events;
}

/** Plans `sessions` sessions whose event counts vary (a few busy, most modest) and add up to `total`. */
export function planSessions(
  v: Vocabulary,
  sessions: number,
  total: number,
  seed: number,
  durationMs: (index: number, r: Random) => number,
): SessionPlan[] {
  const r = seededRandom(seed);
  const weights = Array.from({ length: sessions }, () => 0.3 + 1.7 * r() ** 2);
  const sum = weights.reduce((a, b) => a + b, 0);
  const counts = weights.map((w) => Math.max(1, Math.floor((w / sum) * total)));
  let missing = total - counts.reduce((a, b) => a + b, 0);
  for (let i = 0; missing > 0; i = (i + 1) % sessions, missing--) counts[i] = (counts[i] as number) + 1;
  return counts.map((events, i) => ({
    user: v.users.items[i % 97] as string,
    target: v.hosts.items[(i * 7) % 211] as string,
    events,
    durationMs: durationMs(i, r),
    seed: seed * 7919 + i,
  }));
}
