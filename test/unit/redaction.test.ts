/** Secrets in recorded text (protocol/redaction.ts): each kind found, counted and replaced; the rest left alone. */
import { describe, expect, it } from 'vitest';
import { CustomPattern, redactArgv, redactText } from '../../protocol/redaction.ts';

const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFsaWNlIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
const KEY_BLOCK =
  '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAABG5vbmUAAAAE\n-----END OPENSSH PRIVATE KEY-----';

describe('redactText', () => {
  const cases: Array<[string, string, string, string]> = [
    // [what, input, expected output, kind counted]
    ['mysql -p attached', 'mysql -uroot -pS3cret! db', 'mysql -uroot -p<redacted:password> db', 'password'],
    ['mysqldump -p attached', 'mysqldump -h db -pS3cret all', 'mysqldump -h db -p<redacted:password> all', 'password'],
    ['--password=', 'psql --password=hunter2 -h db', 'psql --password=<redacted:password> -h db', 'password'],
    ['--password value', 'tool --password hunter2 --x', 'tool --password <redacted:password> --x', 'password'],
    ['--pass=', 'openvpn --pass=abc', 'openvpn --pass=<redacted:password>', 'password'],
    ['sshpass -p', 'sshpass -p hunter2 ssh host', 'sshpass -p <redacted:password> ssh host', 'password'],
    [
      'PGPASSWORD=',
      'PGPASSWORD=hunter2 psql -h db',
      'PGPASSWORD=<redacted:secret-assignment> psql -h db',
      'secret-assignment',
    ],
    [
      'AWS secret',
      'export AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG"',
      'export AWS_SECRET_ACCESS_KEY=<redacted:secret-assignment>',
      'secret-assignment',
    ],
    [
      '*_TOKEN=',
      'GITHUB_TOKEN=ghp_abc123 gh pr list',
      'GITHUB_TOKEN=<redacted:secret-assignment> gh pr list',
      'secret-assignment',
    ],
    [
      'api_key in a URL query',
      'curl https://x/y?api_key=abc123',
      'curl https://x/y?api_key=<redacted:secret-assignment>',
      'secret-assignment',
    ],
    [
      'Authorization header',
      "curl -H 'Authorization: Bearer abc.def.ghi' https://api",
      "curl -H 'Authorization: Bearer <redacted:authorization>' https://api",
      'authorization',
    ],
    [
      'Basic auth header',
      'Authorization: Basic dXNlcjpwYXNz',
      'Authorization: Basic <redacted:authorization>',
      'authorization',
    ],
    [
      'bare bearer token',
      'token is Bearer 0123456789abcdefXYZ',
      'token is Bearer <redacted:authorization>',
      'authorization',
    ],
    [
      'URL credentials',
      'git clone https://alice:hunter2@git.example.com/r.git',
      'git clone https://alice:<redacted:url-credentials>@git.example.com/r.git',
      'url-credentials',
    ],
    [
      'postgres URL',
      'psql postgres://app:p%40ss@db:5432/x',
      'psql postgres://app:<redacted:url-credentials>@db:5432/x',
      'url-credentials',
    ],
    [
      'AWS access key id',
      'aws configure set key AKIAIOSFODNN7EXAMPLE',
      'aws configure set key <redacted:aws-access-key>',
      'aws-access-key',
    ],
    ['private key block', `cat <<EOF\n${KEY_BLOCK}\nEOF`, 'cat <<EOF\n<redacted:private-key>\nEOF', 'private-key'],
    ['JWT', `echo ${JWT}`, 'echo <redacted:jwt>', 'jwt'],
  ];

  for (const [what, input, output, kind] of cases) {
    it(`replaces ${what}`, () => {
      const result = redactText(input);
      expect(result.text).toBe(output);
      expect(result.counts[kind as keyof typeof result.counts]).toBe(1);
      // The secret's text is gone, whatever is searched for.
      expect(redactText(result.text)).toEqual({ text: output, counts: {} });
    });
  }

  it('leaves ordinary command lines alone', () => {
    for (const text of [
      'ssh -p 2222 admin@db-1',
      'mkdir -p /var/lib/x',
      'grep -rn password src/',
      'cd $PWD/build && make',
      'echo PWD=/home/alice',
      'curl https://example.com/path',
      'passwd alice',
      'vim /etc/ssh/sshd_config',
      'docker run -p 8080:80 nginx',
    ]) {
      expect(redactText(text), text).toEqual({ text, counts: {} });
    }
  });

  it('counts every secret in one text', () => {
    const result = redactText('PGPASSWORD=a psql postgres://u:b@h && mysql -pc');
    expect(result.counts).toEqual({ 'secret-assignment': 1, 'url-credentials': 1, password: 1 });
    expect(result.text).not.toMatch(/=a |:b@| -pc$/);
  });

  it("applies an administrator's patterns, named in the marker", () => {
    const custom = [CustomPattern.parse({ name: 'ticket', pattern: 'TCK-[0-9]{6}' })];
    expect(redactText('see TCK-123456 now', custom)).toEqual({
      text: 'see <redacted:ticket> now',
      counts: { custom: 1 },
    });
  });

  it('refuses a custom pattern that is invalid, matches nothing but empty text, or takes a built-in name', () => {
    expect(CustomPattern.safeParse({ name: 'x', pattern: '(' }).success).toBe(false);
    expect(CustomPattern.safeParse({ name: 'x', pattern: 'a*' }).success).toBe(false);
    expect(CustomPattern.safeParse({ name: 'jwt', pattern: 'abc' }).success).toBe(false);
    expect(CustomPattern.safeParse({ name: 'Bad Name', pattern: 'abc' }).success).toBe(false);
  });
});

describe('redactArgv', () => {
  it('redacts a password given as the next argument or attached, argument by argument', () => {
    expect(redactArgv(['mysql', '-u', 'root', '-pS3cret', 'db']).argv).toEqual([
      'mysql',
      '-u',
      'root',
      '-p<redacted:password>',
      'db',
    ]);
    expect(redactArgv(['/usr/bin/tool', '--password', 'hunter 2', '-v']).argv).toEqual([
      '/usr/bin/tool',
      '--password',
      '<redacted:password>',
      '-v',
    ]);
    expect(redactArgv(['sshpass', '-p', 'hunter2', 'ssh', 'h']).argv).toEqual([
      'sshpass',
      '-p',
      '<redacted:password>',
      'ssh',
      'h',
    ]);
    expect(redactArgv(['curl', '-H', 'Authorization: Bearer abcdef', 'https://x']).argv[2]).toBe(
      'Authorization: Bearer <redacted:authorization>',
    );
  });

  it("keeps a -p that is no password (ssh's port, mkdir's parents)", () => {
    expect(redactArgv(['ssh', '-p', '2222', 'host'])).toEqual({ argv: ['ssh', '-p', '2222', 'host'], counts: {} });
    expect(redactArgv(['mkdir', '-p', '/x'])).toEqual({ argv: ['mkdir', '-p', '/x'], counts: {} });
  });
});
