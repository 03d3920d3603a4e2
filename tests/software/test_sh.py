"""agentvm's own `sh` (software/commands/sh/), end to end through the sidecar.

It runs the command lines in its subset itself and execs brush (/bin/bash) for
everything else, so the oracle is brush: each case runs as `sh -c CASE` and as
`bash -c CASE` (with $0 "sh" for both), each in a fresh VM over the same files,
and the exit status, stdout and stderr must be identical. Where brush is wrong
and we follow bash, the case is apart with its expected answer; those cases are
also how these tests know which shell ran a case (MARKER).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentvm_sidecar.software import SoftwareLibrary
from agentvm_sidecar.software.layer import build_bin_layer
from tests.process.conftest import sh
from tests.software.conftest import built_command

SETUP = (
    "mkdir -p /tmp/g/sub /tmp/g/a-b && cd /tmp/g && touch b a .h c1 B _x sub/x a-b/x 'sp ace' 9"
    " && printf 'hello\\nworld\\n' > f.txt && printf 'echo from-script $1\\n' > script && chmod +x script"
)

# In the subset: ours runs them (brush's answers must come out)
OURS = [
    "echo hi",
    "echo -n a; echo -e 'x\\ty'; echo -E 'a\\tb'; echo -ne 'q\\n'; echo -- -n; echo -nx; echo -",
    "echo -e '\\u00e9\\x41\\0101\\e[1m\\c'x; echo after",
    "echo -e 'a\\\\b' '\\q' '\\0' end",
    'x="  a   b  "; echo [$x]; echo "[$x]"; echo [$x$x]; y=; echo [$y] ["$y"] [${y}]',
    "echo * .* ?1 [ab] [!a]* [[:upper:]] x* '*' \"?\" \\* [a-c]1",
    'v="a*"; echo $v "$v"; w="s*"; echo $w',
    "echo sub/* a-b/* ./su*/x /tmp/g/[ab] nonexist* /tmp/nope/*",
    "echo /bin/l? /b*/ /tm[p] | wc -w",
    'echo ${HOME}x $HOME. "$HOME"\'$HOME\' a#b #c',
    "echo ~ ~/x a~ \"~\" '~' ~/",
    "echo \"a\"b'c' \"\"  '' x \"\" | wc -c",
    "echo $# $1 ${2}. $?",
    "nosuch; echo $?",
    "nosuch 2>/dev/null; echo $?",
    "/nosuch/x; echo $?",
    "./9; echo $?",
    "cat < /nope; echo $?",
    "echo hi > /nope/x; echo $?",
    "echo hi > /nope/x 2>/dev/null; echo $?",
    "cd /nope; echo $?",
    "cd f.txt; echo $?",
    "cd /tmp; echo $PWD; env | grep PWD",
    "cd ..; echo $PWD; cd /tmp/../bin/.; echo $PWD; ls | head -3; cd; echo $PWD",
    "cd sub && ls && cd ../a-b && ls && cat ../f.txt",
    "A=1 env | grep ^A=; export B=2; env | grep ^B=; x=1; env | grep ^x=; echo $x",
    "export P=1 Q=; env | grep -E '^(P|Q)='; Q=2; env | grep ^Q=; unset P; env | grep -c ^P=",
    "HOME=/x; echo ~; unset HOME; echo [$HOME]",
    "env | grep -v AGENTVM_TOOLS_TOKEN",
    "A=1 B=2 env | grep -E '^(A|B)='; echo [$A]",
    "exit 3; echo no",
    "exit",
    "false; exit",
    "exit 300",
    "false && echo a || echo b; true || echo c; echo $?; false || true && echo d",
    "false\necho $?\ntrue",
    "echo a \\\n b; echo \"c\\\nd\"",
    "echo x >o 2>&1; cat o; ls /nope 2>&1 | cat; >z; ls z; >>z; cat z",
    "cat f.txt | grep wor | wc -l",
    "echo hi | cat; echo $?",
    "true | echo -n x; echo",
    "echo hello | true; echo $?",
    "echo hello | false; echo $?",
    "yes | head -3",
    "seq 1 5 | tail -2 | cat -n",
    "echo 1 >&2; echo 2 1>&2 2>/dev/null",
    "X=5; echo $X; X=6 env | grep ^X=; unset X; echo [$X]",
    "echo a\\ b \\$x \\\\ \"a\\$b\\\"\\\\\\n\" \\'",
    "chmod -x a; ./a; echo $?",
    "./script arg; echo $?; PATH=$PATH:/tmp/g; script two",
    "/bin/printf 'echo x\\n\\0' > bin; chmod +x bin; ./bin; echo $?; head -c 300 /dev/zero | tr '\\0' '#' > t;"
    " /bin/printf '\\0' >> t; chmod +x t; ./t; echo $?",
    "echo $SHLVL",
    "cat f.txt >> f.txt; cat f.txt",
    "wc -l < f.txt; wc -l<f.txt; wc -l <f.txt >o; cat o",
    "ls /nope 2>&1 >/dev/null | wc -l",
    "echo a; echo b >&2; echo c 1>&2",
    "sh -c 'echo nested $0 $1' name one",
    "echo 2>o x; cat o; echo 1>o 22; cat o",
    "echo x 3>o 1>&3; cat o",
    "true > o; false < f.txt; echo $?",
    "cat f.txt | head -1 > o; cat o",
    "seq 1 3 | sort -r",
    "echo $UNSET_BUT_ASSIGNED; UNSET_BUT_ASSIGNED=1",
    "find . -name x -exec echo {} \\; | sort",
    "echo a=b c=d; echo --x=1",
    "# only a comment",
    # compound commands
    "if true; then echo yes; fi",
    "if false; then echo a; elif [ -d sub ]; then echo b; else echo c; fi; echo $?",
    "if false; then echo a; elif false; then echo b; else echo c; fi",
    "if false; then echo a; fi; echo $?",
    "if ! test -e nope; then echo missing; fi",
    "if [ -f f.txt ]\nthen\n  echo file\nfi",
    "for i in 1 2; do echo $i; done",
    "for f in *.txt sub/*; do echo \"[$f]\"; done",
    "for w in $(cat f.txt) last; do echo -n \"$w,\"; done; echo",
    "for i in a b c; do if [ $i = b ]; then continue; fi; echo $i; done",
    "for i in 1 2 3; do for j in a b; do echo $i$j; continue 2; done; done",
    "for i in 1 2; do for j in a b; do echo $i$j; break 2; done; done; echo after",
    "for x in; do echo never; done; echo $?",
    "n=; while [ x$n != xxxx ]; do n=${n}x; echo $n; done",
    "until test -e stop; do touch stop; echo once; done",
    "while true; do echo loop; break; done; while false; do :; done; echo $?",
    "{ echo group; echo two; } > o; cat o",
    "{ echo out; echo err >&2; } 2>&1 | sort",
    "(cd sub && ls); pwd; (x=inner; echo $x); echo [$x]",
    "(exit 3); echo $?; (echo a; exit 4; echo b); echo $?",
    "(echo sub; echo shell) | wc -l",
    "for i in 3 1 2; do echo $i; done | sort",
    "ls | { cat; echo end; }",
    "/bin/echo a | (cat; echo b) | wc -l",
    "{ cd /; } | cat; echo $PWD",
    "! false; echo $?; ! true; echo $?",
    # parameter operations
    "echo ${#HOME} ${HOME#/} ${HOME##*/} ${HOME%/*} ${HOME%%/*}x ${U:-d} ${U-d} ${U:+a} ${HOME:+a} \"${U:-ab}\" ${U:-a  b}",
    "x=; echo [${x:-d}] [${x-d}] [${x:=v}] $x [${y=w}] $y [${x:+alt}] [${y+alt}]",
    "f=dir/file.tar.gz; echo ${f%.*} ${f%%.*} ${f#*/} ${f##*.} ${f#\"dir\"} ${f%'.gz'} ${f#x} ${f%\\.gz}",
    "echo ${U:-$HOME} ${U:-\"q  q\"} ${U:-'s  s'} \"${U:-$(echo sub)}\" ${U:-*.txt} ${U:-\\*}",
    "echo ${1:-none} ${#} ${?} ${#1}; set_me=${UNSET_X:-fallback}; echo $set_me",
    "p='*.txt'; echo ${p} \"${p}\" ${HOME#$HOME} ${f:-}x",
    # arithmetic
    "echo $((1+2*3)) $(( (1+2)*3 )) $((010)) $((0x1f)) $((2**10)) $((-5/2)) $((-5%3)) $((1<<3)) $((5>3?1:2))",
    "x=abc; echo $((x+1)); y=\"1+2\"; echo $((y*2)); z=\" 7 \"; echo $((z+1)); echo $((u)) $((!0)) $((~5)) $((7&3|8^1))",
    "i=0; while [ $i -lt 3 ]; do echo $i; i=$((i+1)); done; echo $(( $i + 10 )) \"$((i*3))\" $((i>2 && i<4)) $((0 || 0))",
    "echo $((1/0)); echo next $?",
    "x=$(echo $((5%0))); echo after $? [$x]",
    "echo $((0 && 1/0)) $((1 || 1/0)) $((1 ? 2 : 1/0))",
    # case
    "case abc in a*) echo A;; *) echo other;; esac; case x in y|x) echo yx;; esac",
    "for f in a.txt b.py c; do case $f in *.txt) echo text;; *.py) echo py ;; *) echo \"? $f\";; esac; done",
    "case \"$HOME\" in\n  /home/*)\n    echo home\n    ;;\nesac",
    "case x in x) ;; esac; echo $?; case x in y) echo no;; esac; echo $?",
    "case '*' in \\*) echo star;; esac; case a in '*') echo no;; (a) echo paren;; esac",
    "case $(echo sub) in s[u]b) echo sub; false;; esac; echo $?",
    # printf and read
    "printf '%s-%d-%5.2f|%x|%o|%c|%b|%%\\n' a 42 3.14159 255 8 xyz 'a\\tb'; printf '%s\\n' a b c",
    "printf '%-5s|%05d|%+d|%.3s|%5s|%*d\\n' ab 42 7 abcdef x 4 9; printf 'x'; printf '\\n%s %s\\n' 1",
    "printf '%d %d\\n' \"'A\" 0x10; printf '%b' 'stop\\cno'; printf 'q\\101\\x42\\n'",
    "printf 'a b\\nc d e\\n' | while read x y; do echo \"[$x][$y]\"; done",
    "ls | while read -r f; do echo \"<$f>\"; done | head -3",
    "printf ' lead  trail \\n' | { read x; echo \"[$x]\"; }",
    "printf 'a\\\\ b c\\n' | { read -r x y; echo \"[$x][$y]\"; }",
    "{ read a b; echo \"$a|$b\"; } < f.txt",
    "while read l; do echo \"line: $l\"; done < f.txt",
    "echo one two | while read a b; do echo $b $a; done",
    "cat <<EOF | while read n; do echo n$n; done\n1\n2\nEOF",
    "x=$(cat f.txt | while read l; do echo $l; done); echo $x",
    "echo a | (cat; echo b) | wc -l",
    "echo $((1+2))",
    # positional parameters, set, command
    "set -- a 'b c'; echo $# \"$@\"; for x in \"$@\"; do echo \"[$x]\"; done; echo \"[$*]\" [$@] \"x$@y\"",
    "set -- a 'b c' d; shift; echo $1 $#; shift 2; echo $# [$1]; set --; echo \"[$@]\" \"$@\" $# [$*]",
    "set -- 1 2; (shift; echo $1); echo $1; x=$(set -- z; echo $1); echo $x $1",
    "command -v ls; command -v echo; command -v cd; command -v nosuch; echo $?; command ls f.txt; command echo hi",
    "set +e; set -o errexit; set +o errexit; false; echo on",
    # [[ ]]
    "[[ -f f.txt ]] && echo f; [[ -d f.txt ]] || echo nd; [[ a == a ]] && echo eq; [[ abc == a* ]] && echo glob; "
    "[[ abc == \"a*\" ]] || echo quoted",
    "x='a b'; [[ $x == 'a b' ]] && echo nosplit; [[ -n $x && $x != c ]] && echo and; [[ ! -e nope ]] && echo not; "
    "[[ ( -e f.txt || -e nope ) && 1 -lt 2 ]] && echo paren",
    "[[ 2 -lt 10 ]] && echo num; [[ 2 < 10 ]] || echo str; [[ 1+1 -eq 2 ]] && echo arith; [[ '' ]] || echo empty; "
    "[[ x ]] && echo word",
    "if [[ $HOME == /home/* ]]; then echo home; fi; [[ -z $UNSET_Q ]] && echo z",
    "for f in *; do [[ -d $f ]] && echo \"dir $f\"; done; [[ a != b ]]; echo $?",
    # functions
    "f() { echo fn $1 $#; }; f a b; f",
    "f() { local x=in; echo $x; y=global; return 3; echo no; }; x=out; f; echo $? $x $y",
    "function g { echo g \"$@\"; }; g 1 '2 3'; function h() ( cd /; pwd ); h; pwd",
    "f() { echo $1; }; for i in 1 2; do f $i; done | sort -r",
    "f() { cat; }; echo piped | f; ls | f | head -1",
    "fact() { if [ $1 -le 1 ]; then echo 1; else echo $(( $1 * $(fact $(($1 - 1))) )); fi; }; fact 5",
    "f() { return; }; false; f; echo $?; g() { false; return; }; g; echo $?",
    "f() { echo $0; }; f",
    "f() { echo out; echo err >&2; } > o 2>&1; f; cat o",
    "f() {\n  for i in \"$@\"; do\n    [ $i = stop ] && return 7\n    echo $i\n  done\n}\nf a stop b; echo $?",
    "f() { local v; v=1; echo [$v]; }; v=0; f; echo $v; unset v; f; echo [${v-unset}]",
    # brace expansion
    "echo a{b,c}d x{1..3} {a..c}{1,2} {5..1} \"{a,b}\" {a} {} a{b,{c,d}}e {a,b}/{c,d} ${HOME}{1,2} {1..3..2} {a,b",
    "mkdir -p q/{a,b}/c && ls q; for i in {1..3}; do echo -n $i; done; echo; echo {a..c} {a..c",
    "cp f.txt{,.bak} && ls f.txt*; echo '{a,b}'{c,d} $(echo {x,y})",
    # command substitution
    "echo $(echo sub) \"$(echo a  b)\" x$(echo)y",
    "x=$(cat f.txt | wc -l); echo [$x]",
    "x=$(false); echo $?; x=$(exit 5); echo $?; y=$x",
    "echo $(cd sub; pwd); pwd",
    "echo \"$(ls sub)\" $(echo 'a*') $(echo a*)",
    "echo \"$(/bin/printf 'a\\n\\n\\n' | cat)\" | wc -l",
    "echo $(echo $(echo nested))",
    "echo $( (echo deep) )",
    "echo $(nosuch 2>&1 | wc -c)",
    "v=$(echo out; echo err >&2); echo [$v]",
    "v=$(ls nope 2>&1); echo [$v]; v=$(ls nope f.txt 2>/dev/null); echo [$v]",
    "echo $(for i in 1 2; do echo $i; done)",
    "cat $(echo f.txt) | head -1",
    "echo \"$(exit 3)\"$?",
    "echo `echo tick` \"`echo q  q`\" `echo \\`echo nested\\``; x=`ls | wc -l`; echo $x",
    # here-documents
    "cat <<EOF\nhere $HOME\n\\$HOME \\\\ $(echo sub)\nEOF",
    "cat <<'EOF'\nkept $HOME $(echo x)\nEOF",
    "cat <<\"EOF\" | wc -l\none\ntwo\nEOF",
    "cat <<-EOF\n\tindented\n\tEOF\necho after",
    "cat <<A; cat <<B\nfirst\nA\nsecond\nB",
    "cat <<EOF > o\nto a file\nEOF\ncat o",
    "x=$(cat <<EOF\ncaptured\nEOF\n); echo $x",
    "head -c 10000 /dev/zero | tr '\\0' a > big; cat <<EOF | wc -c\n$(cat big)\nEOF",
    "while false; do :; done <<EOF\nignored\nEOF\necho $?",
    # builtins
    "pwd; cd sub; pwd; cd ..; pwd",
    "[ a = a ] && echo eq; [ a != a ] || echo ne; [ 2 -lt 10 ] && echo lt; [ 2 \\< 10 ] || echo string",
    "test -z ''; echo $?; test -n ''; echo $?; test x; echo $?; test; echo $?; [ ]; echo $?",
    "[ -f f.txt ]; echo $?; [ -d f.txt ]; echo $?; [ -e sub ]; echo $?; [ -s f.txt ]; echo $?; [ -s a ]; echo $?",
    "[ -L /usr/bin/sh ]; echo $?; [ -h /bin ]; echo $?; [ -x /bin/ls ]; echo $?",
    "[ 1 -eq 1 -a 2 -gt 1 ]; echo $?; [ 1 -eq 2 -o x = x ]; echo $?; [ ! -e nope -a -e f.txt ]; echo $?",
    "[ \\( a = a \\) ]; echo $?; [ ! a = b ]; echo $?; [ -n ]; echo $?; [ -e ]; echo $?",
    "[ 3 -ge 3 ]; echo $?; [ -3 -le -4 ]; echo $?; [ 5 -ne 5 ]; echo $?; [ x -eq 1 ]; echo $?",
    "[ f.txt -nt nope ]; echo $?; [ nope -ot f.txt ]; echo $?; [ f.txt -ef ./f.txt ]; echo $?",
    "[ a; echo $?",
    "[ -t 0 ]; echo $?; test 1 -gt 2 -o 3 -gt 2; echo $?",
    "echo hi &> o; cat o; nosuch &>> o; cat o; echo x >| o; cat o",
    "true >&2 2>&1; echo $?",
    "echo a >&2 | wc -c",
]

# Outside the subset: ours must hand them to brush, which answers as before
BRUSH = [
    "a={x,y}; echo $a",
    "echo x > {a,b}",
    "echo ${U:?oops}; echo after",
    "echo ${HOME:1:3} ${HOME/home/x}",
    "echo ${!HOME}",
    "echo \"${U:-'q'}\"",
    "echo $_ $PPID",
    "echo \"$@\" $* $$ | wc -w",
    "sleep 0 & wait",
    "echo $BASH_VERSION | wc -c",
    "echo $RANDOM | grep -c '^[0-9][0-9]*$'",
    "echo $OLDPWD",
    "pwd -P",
    "[ -v HOME ] && echo set",
    "[[ abc =~ ^a ]] && echo re",
    "[[ -v HOME ]] && echo set",
    "for ((i=0; i<2; i++)); do echo $i; done",
    "for x; do echo $x; done",
    "cat <<<here",
    "x=$(for i in 1; do echo $i; done | cat); echo $x",
    "echo $((i++)) $((x=2)) $((2#101))",
    "case a in a) echo fall;& b) echo through;; esac",
    "printf -v x '%s' a; echo $x",
    "set -x; echo hi",
    "f() { echo x; } | cat",
    "echo() { :; }; echo hi",
    "f() echo x",
    "local x=1",
    "return 3",
    "set -f; echo *",
    "command -v nosuch ls",
    "command -V ls",
    "command -v if",
    "printf '%q\\n' 'a b'",
    "read; echo $REPLY",
    "echo a | read x; echo [$x]",
    "cat <<EOF\nunterminated",
    "break",
    "for i in 1 2; do break 5; done; echo $?",
    "echo a | cat | (cat; echo b) | wc -l",
    "if true; then fi",
    "echo ~: ; X=6 echo $X; ! true; echo $?",
    "A+=1; echo $A",
    "x=~/y; echo $x",
    "export X=~/y; echo $X",
    "cd -",
    "echo ~root",
    "echo 12>o x; cat o",
    "echo $'a\\tb'",
    "export Q; Q=1; env | grep ^Q=",
    "echo hi >& o",
    "echo @(a|b)",
    "exit foo; echo $?",
    "echo hi >&3; echo $?",
    "PATH=/nope ls; echo $?",
    "echo a;;",
    "echo 'unterminated",
    "|| echo x",
    "echo a |",
]


# brush appends /x to every entry, existing or not; bash, and ours, only where it
# exists. A case run after this line shows who ran it: the parse is the whole
# command's, so the case alone goes where the two together go.
MARKER = "echo */x\n"
OURS_MARK, BRUSH_MARK = b"a-b/x sub/x", b"9/x B/x _x/x a/x a-b/x b/x c1/x f.txt/x script/x sp ace/x sub/x"


@pytest.fixture(scope="module", autouse=True)
def sh_module() -> Path:
    return built_command("sh")


def test_the_layer_has_our_sh_and_keeps_brush_as_bash(sh_module: Path, library: SoftwareLibrary) -> None:
    layer = build_bin_layer(library)
    modules = {name: layer.modules[layer.fs.getattr(layer.fs.lookup(layer.fs.root(), name)).ino][1]
               for name in ("sh", "bash")}
    assert bytes(modules["sh"]) == sh_module.read_bytes()
    assert bytes(modules["bash"]) == bytes(library.commands()["bash"].module)


async def _run(client, shell: str, command: str) -> tuple[int, bytes, bytes]:
    vm = (await client.vm.create()).vm_id
    try:
        await sh(client, vm, SETUP)
        # bash's $0 is "sh" too, so that cases may print it
        r = await client.process.exec(vm, argv=[f"/bin/{shell}", "-c", command, "sh"], cwd="/tmp/g",
                                      timeout_ms=60_000)
        return r.exit_code, r.stdout, r.stderr
    finally:
        await client.vm.dispose(vm)


async def _differences(client, cases: list[str], ours_run_them: bool) -> list[str]:
    found = []
    for case in cases:
        ours, brush = await _run(client, "sh", case), await _run(client, "bash", case)
        if ours != brush:
            found.append(f"{case!r}\n  sh:   {str(ours)[:300]}\n  bash: {str(brush)[:300]}")
        marked = await _run(client, "sh", MARKER + case)
        if (marked[1].split(b"\n")[0] == OURS_MARK) != ours_run_them:
            found.append(f"{case!r} ran in the wrong shell: {str(marked)[:300]}")
    return found


async def test_commands_in_the_subset_answer_as_brush_does(client) -> None:
    differences = await _differences(client, OURS, True)
    assert not differences, "\n".join(differences)


async def test_commands_outside_the_subset_go_to_brush(client) -> None:
    differences = await _differences(client, BRUSH, False)
    assert not differences, "\n".join(differences)


@pytest.mark.parametrize(
    ("command", "ours", "brush"),
    [
        ("echo */x", (0, OURS_MARK + b"\n", b""), (0, BRUSH_MARK + b"\n", b"")),
        # brush drops a dup2 onto its own stdout or stderr for an external command
        ("ls -d nope 2>&1", (2, b"ls: cannot access 'nope': No such file or directory\n", b""),
         (2, b"", b"ls: cannot access 'nope': No such file or directory\n")),
        ("/bin/echo y >&2", (0, b"", b"y\n"), (0, b"y\n", b"")),
        # brush ignores set -e, -u and -o pipefail; shift past the end is 1 in bash
        ("set -e; false; echo after", (1, b"", b""), (0, b"after\n", b"")),
        ("set -e; false || true; true && false || echo ok; if false; then :; fi; ! true; x=$(false; echo in); "
         "echo $x; for i in 1; do false; done; echo no", (1, b"ok\nin\n", b""), (0, b"ok\nin\nno\n", b"")),
        ("set -euo pipefail; false | true; echo $?", (1, b"", b""), (0, b"0\n", b"")),
        ("set -o pipefail; false | true; echo $?; true | true; echo $?", (0, b"1\n0\n", b""), (0, b"0\n0\n", b"")),
        ("set -u; echo ${NOPE:-ok}; echo $NOPE; echo after", (1, b"ok\n", b"\x1b[31merror:\x1b[39m NOPE: unbound variable\n"),
         (0, b"ok\n\nafter\n", b"")),
        ("set -- a; shift 5; echo $?", (0, b"1\n", b""), (0, b"2\n", b"")),
        # brush keeps the backslashes of `...` that bash takes away before running it
        ("echo `echo \\$HOME` \"`echo \\\"dq\\\"`\" `printf '%s' a\\\\b`", (0, b"/home/user dq ab\n", b""),
         (0, b'$HOME "dq" a\\b\n', b"")),
        # brush keeps an empty alternative as a word, and pads no sequence
        ("echo {,x}", (0, b"x\n", b""), (0, b" x\n", b"")),
        ("echo {01..10..3}", (0, b"01 04 07 10\n", b""), (0, b"1 4 7 10\n", b"")),
        # brush splits the word of a quoted ${U:-word}
        ('echo "${U:-a  b}"', (0, b"a  b\n", b""), (0, b"a b\n", b"")),
        # brush's read keeps backslashes without -r, and answers 0 at the end of input
        ("printf 'a\\\\ b c\\n' | { read x y; echo \"[$x][$y]\"; }", (0, b"[a b][c]\n", b""),
         (0, b"[a\\][b c]\n", b"")),
        ("printf 'last' | { read x; echo $? $x; }", (0, b"1 last\n", b""), (0, b"0 last\n", b"")),
        # brush loses $((...)) in a loop fed by a here-document through a pipe
        ("cat <<EOF | while read n; do echo $((n*2)); done\n1\n2\nEOF", (0, b"2\n4\n", b""),
         (0, b"n*2 0\nn*2 0\n", b"")),
    ],
)
async def test_where_brush_is_wrong_ours_answers_as_bash(client, command: str, ours: tuple, brush: tuple) -> None:
    assert await _run(client, "sh", command) == ours
    assert await _run(client, "bash", command) == brush


async def test_absolute_paths_mean_the_vm_s_even_when_the_cwd_has_the_same_names(client, vm_id) -> None:
    # a plain WASI program would find /tmp and /bin under the cwd's own tmp/ and bin/
    # (wasm/plain_preopens.py); ours exports agentvm_absolute_paths and gets "/" alone
    await sh(client, vm_id, "mkdir -p /tmp/w/tmp /tmp/w/bin")
    r = await client.process.exec(
        vm_id, argv=["sh", "-c", "echo x > /tmp/f; echo y > tmp/f; cd /tmp && cat f; echo /bi? /tmp/w/t*; cd /; echo *"],
        cwd="/tmp/w", timeout_ms=60_000,
    )
    assert r.stdout.splitlines()[:2] == [b"x", b"/bin /tmp/w/tmp"], r
    assert b"tmp" in r.stdout.splitlines()[2].split()
    assert (await client.fs.read_file(vm_id, "/tmp/w/tmp/f")).data == b"y\n"


async def test_nesting_is_bounded_and_each_level_parsed_once(client) -> None:
    # 99 levels run here (parsing a word twice doubled the work at every level: 30
    # ran out of memory); brush runs out of fds there. Over 100 go to brush.
    deep = "echo " + "$(echo " * 99 + "deep" + ")" * 99
    assert await _run(client, "sh", MARKER + deep) == (0, OURS_MARK + b"\ndeep\n", b"")
    deeper = "echo " + "$(echo " * 120 + "x" + ")" * 120
    assert (await _run(client, "sh", MARKER + deeper))[1].startswith(BRUSH_MARK)


async def test_a_command_that_cannot_start_says_so_on_its_own_stderr(client) -> None:
    # after its redirections, as bash does (brush sometimes writes to the shell's stderr)
    assert await _run(client, "sh", "nosuch 2>&1 | wc -c; nosuch 2>/dev/null") == (127, b"43\n", b"")
