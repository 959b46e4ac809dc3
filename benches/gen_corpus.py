#!/usr/bin/env python3
"""Deterministic benchmark corpus for threatmark.

Writes N realistic source files in every supported language (about 2% of them annotated), plus
hostile files (binary, invalid UTF-8, minified, huge, unterminated comments), under OUT.
The same seed always gives the same tree, byte for byte.

    python3 benches/gen_corpus.py OUT --files 50000 --seed 42
"""
import argparse
import os
import random

# (extension, line comment, block open, block close, function template)
LANGS = [
    ("rs", "//", "/*", "*/", "pub fn {name}(input: &str) -> Result<usize, Error> {{\n    let n = input.len();\n    if n > {k} {{ return Err(Error::TooLong(n)); }}\n    Ok(n * {k})\n}}\n"),
    ("py", "#", '"""', '"""', "def {name}(items, limit={k}):\n    total = 0\n    for item in items:\n        if item > limit:\n            raise ValueError(\"too big\")\n        total += item\n    return total\n"),
    ("js", "//", "/*", "*/", "export function {name}(req, res) {{\n  const id = Number(req.params.id);\n  if (id > {k}) return res.status(400).send('bad');\n  return res.json({{ id }});\n}}\n"),
    ("ts", "//", "/*", "*/", "export async function {name}(client: Client, id: number): Promise<Row[]> {{\n  const rows = await client.query('select * from t where id = $1', [id]);\n  return rows.filter((r) => r.n < {k});\n}}\n"),
    ("go", "//", "/*", "*/", "func {name}(w http.ResponseWriter, r *http.Request) {{\n\tid := r.URL.Query().Get(\"id\")\n\tif len(id) > {k} {{\n\t\thttp.Error(w, \"bad\", 400)\n\t\treturn\n\t}}\n\tfmt.Fprintf(w, \"%s\", id)\n}}\n"),
    ("java", "//", "/*", "*/", "public int {name}(List<Integer> xs) {{\n    int total = 0;\n    for (int x : xs) {{ if (x > {k}) throw new IllegalArgumentException(); total += x; }}\n    return total;\n}}\n"),
    ("c", "//", "/*", "*/", "int {name}(const char *buf, size_t len) {{\n    if (len > {k}) return -1;\n    int sum = 0;\n    for (size_t i = 0; i < len; i++) sum += buf[i];\n    return sum;\n}}\n"),
    ("cpp", "//", "/*", "*/", "std::vector<int> {name}(const std::vector<int>& v) {{\n    std::vector<int> out;\n    for (auto x : v) if (x < {k}) out.push_back(x * 2);\n    return out;\n}}\n"),
    ("cs", "//", "/*", "*/", "public static int {name}(IEnumerable<int> xs) {{\n    return xs.Where(x => x < {k}).Sum();\n}}\n"),
    ("rb", "#", "=begin", "=end", "def {name}(params)\n  raise ArgumentError, 'bad' if params[:id].to_i > {k}\n  Order.where(id: params[:id]).first\nend\n"),
    ("sh", "#", None, None, "{name}() {{\n  local n=\"$1\"\n  if [ \"$n\" -gt {k} ]; then echo bad >&2; return 1; fi\n  echo \"$n\"\n}}\n"),
    ("yaml", "#", None, None, "{name}:\n  replicas: {k}\n  image: registry.example/{name}:1.{k}\n  ports:\n    - containerPort: 8080\n"),
    ("tf", "#", "/*", "*/", "resource \"aws_s3_bucket\" \"{name}\" {{\n  bucket = \"{name}-{k}\"\n  tags = {{ team = \"shop\" }}\n}}\n"),
    ("toml", "#", None, None, "[{name}]\nlimit = {k}\nenabled = true\n"),
    ("php", "//", "/*", "*/", "function {name}($db, $id) {{\n    $stmt = $db->prepare('SELECT * FROM t WHERE id = ?');\n    $stmt->execute([$id]);\n    return $stmt->fetchAll();\n}}\n"),
    ("kt", "//", "/*", "*/", "fun {name}(xs: List<Int>): Int = xs.filter {{ it < {k} }}.sum()\n"),
    ("swift", "//", "/*", "*/", "func {name}(_ xs: [Int]) -> Int {{\n    return xs.filter {{ $0 < {k} }}.reduce(0, +)\n}}\n"),
    ("scala", "//", "/*", "*/", "def {name}(xs: Seq[Int]): Int = xs.filter(_ < {k}).sum\n"),
    ("sql", "--", "/*", "*/", "CREATE TABLE {name} (id INT PRIMARY KEY, n INT CHECK (n < {k}));\n"),
]

WORDS = ("order payment session token cache user cart invoice report audit queue worker "
         "gateway ingress secret bucket upload export import search index").split()

ANNOTATIONS = [
    "@threat {T} injection in {w} (#{t}_inj) [stride: T,I; likelihood: possible; impact: major]",
    "@mitigates {C} against #{t}_inj with Input validation for {w} (#{t}_val)",
    "@exposes {C} to Denial of service via {w} (#{t}_dos) with unbounded input",
    "@connects {C} to {w} store with TLS",
    "@control Input validation for {w} (#{t}_val): schema checked before use",
    "@accepts #{t}_dos to {C} with rate limited upstream [expires: 2027-01-31]",
]


def ident(rng):
    return "_".join(rng.choice(WORDS) for _ in range(2)) + str(rng.randrange(1000))


def source_file(rng, lang, annotated):
    ext, line, bopen, bclose, tmpl = lang
    parts = []
    if bopen and bopen not in ('"""', "=begin"):
        parts.append(f"{bopen}\n * Module {ident(rng)}.\n * Generated for benchmarks.\n {bclose}\n")
    else:
        parts.append(f"{line} Module {ident(rng)}: generated for benchmarks.\n")
    for _ in range(rng.randrange(3, 14)):
        name = ident(rng)
        if rng.random() < 0.4:
            parts.append(f"{line} {name} handles {rng.choice(WORDS)} requests; see the runbook.\n")
        parts.append(tmpl.format(name=name, k=rng.randrange(10, 5000)))
        parts.append("\n")
    if annotated:
        w = rng.choice(WORDS)
        t = f"{w}{rng.randrange(100000)}"
        comp = f"Shop:{w.capitalize()}{rng.randrange(50)}"
        at = rng.randrange(1, len(parts))
        notes = [
            f"{line} " + a.format(T=w.capitalize(), C=comp, w=w, t=t)
            for a in rng.sample(ANNOTATIONS, rng.randrange(2, len(ANNOTATIONS)))
        ]
        parts.insert(at, "\n".join(notes) + "\n")
    return "".join(parts)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--files", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--annotated", type=float, default=0.02, help="fraction of annotated files")
    ap.add_argument("--no-hostile", action="store_true")
    ap.add_argument("--tiny", action="store_true", help="one-line files (for the 1M-file run)")
    ap.add_argument("--languages", type=int, default=len(LANGS),
                    help="use only the first N languages (11: Rust to shell, issue 20's small tree)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    langs = LANGS[: max(1, args.languages)]
    per_dir = 200
    for i in range(args.files):
        lang = langs[i % len(langs)]
        d = os.path.join(args.out, f"svc{i // (per_dir * 20):03d}", f"pkg{(i // per_dir) % 20:02d}")
        annotated = rng.random() < args.annotated
        if args.tiny:
            text = f"{lang[1]} @threat Tiny {i} (#tiny{i})\n" if annotated else f"{lang[1]} file {i}\n"
        else:
            text = source_file(rng, lang, annotated)
        if lang[0] == "php":
            # Outside `<?php` a PHP file is HTML text, and its `//` lines are no comments.
            text = "<?php\n" + text
        write(os.path.join(d, f"{ident(rng)}_{i}.{lang[0]}"), text)
    if not args.no_hostile:
        h = os.path.join(args.out, "hostile")
        write(os.path.join(h, "blob.rs"), bytes(rng.randrange(256) for _ in range(65536)))
        write(os.path.join(h, "latin1.py"), b"# @threat Caf\xe9 (#latin1)\nx = 1\n")
        write(os.path.join(h, "open.c"), "int x;\n/* @threat Unclosed (#unclosed)\n" + "int y;\n" * 1000)
        write(os.path.join(h, "min.js"), "var a=1;" * 1_250_000 + "\n// @threat Minified (#minified)\n")
        write(os.path.join(h, "deep.js"), "[" * 20000 + "]" * 20000 + "\n")
        write(os.path.join(h, "many.py"), "".join(f"# @threat T{i} (#many{i})\n" for i in range(10000)))
    print(f"wrote {args.files} files to {args.out}")


if __name__ == "__main__":
    main()
