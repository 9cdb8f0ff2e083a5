#!/usr/bin/env python3
"""Times `chipgym score --problems` on a problem set of a given size, from a cold cache.

The problems are the twenty of tests/test_ports.cpp (reference, correct variant, mutant),
replicated to --problems problems; each replica and each sample carries an unused module of its
own, so no two texts are the same and nothing comes from the cache. Each problem gets --samples
samples, cycling through correct variant, mutant and reference.

    python3 bench/problem_set_scale.py --chipgym build/chipgym --problems 150 --samples 10 --workers 2
"""
import argparse, ast, json, os, re, subprocess, sys, tempfile, time


def test_problems(path):
    src = open(path).read()
    start = src.index("const Problem kProblems[] = {") + len("const Problem kProblems[] = {")
    body = src[start:src.index("PortScoreOptions quick()")]
    body = body[:body.index("};\n")]
    entries, depth, fields, cur = [], 0, [], ""
    for tok in re.findall(r'"(?:[^"\\]|\\.)*"|//[^\n]*|[{},]', body):
        if tok.startswith("//"):
            continue
        if tok == "{":
            depth += 1
            fields, cur = [], ""
        elif tok == "}":
            if depth == 1:
                fields.append(cur)
                entries.append(fields)
            depth -= 1
        elif tok == ",":
            if depth == 1:
                fields.append(cur)
                cur = ""
        else:
            cur += ast.literal_eval(tok)
    return [e for e in entries if len(e) == 4]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chipgym", default="build/chipgym")
    ap.add_argument("--tests", default=os.path.join(os.path.dirname(__file__), "..", "tests", "test_ports.cpp"))
    ap.add_argument("--problems", type=int, default=150)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--equiv", action="store_true", help="also prove every sample with --equiv")
    a = ap.parse_args()
    base = test_problems(a.tests)
    with tempfile.TemporaryDirectory(prefix="chipgym-scale-") as tmp:
        problems, samples = os.path.join(tmp, "problems"), os.path.join(tmp, "samples")
        for i in range(a.problems):
            name, ref, correct, mutant = base[i % len(base)]
            tag = f"p{i:03d}"
            os.makedirs(os.path.join(problems, tag))
            os.makedirs(os.path.join(samples, tag))
            with open(os.path.join(problems, tag, "ref.v"), "w") as f:
                f.write(ref + f"\nmodule replica_{tag};\nendmodule\n")
            with open(os.path.join(problems, tag, "spec.txt"), "w") as f:
                f.write(name + "\n")
            for k in range(a.samples):
                text = (correct, mutant, ref)[k % 3]
                with open(os.path.join(samples, tag, f"s{k:02d}.v"), "w") as f:
                    f.write(text + f"\nmodule sample_{tag}_{k};\nendmodule\n")
        cmd = [a.chipgym, "score", "--problems", problems, "--samples", samples, "--workers", str(a.workers),
               "--cache-dir", os.path.join(tmp, "cache"), "--json"] + (["--no-synth"] if a.no_synth else []) + (["--equiv", "--depth", "14"] if a.equiv else [])
        t0 = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.time() - t0
        if r.returncode != 0:
            sys.stderr.write(r.stderr[-2000:])
            sys.exit(r.returncode)
        j = json.loads(r.stdout)
        n = len(j["samples"])
        print(json.dumps({"problems": a.problems, "samples_per_problem": a.samples, "samples": n,
                          "workers": a.workers, "synthesis": not a.no_synth, "equiv": a.equiv, "seconds": round(seconds, 1),
                          "seconds_per_sample": round(seconds / max(n, 1), 3), "pass_at_k": j["pass_at_k"],
                          "failures": j["failures"]}, indent=2))


if __name__ == "__main__":
    main()
