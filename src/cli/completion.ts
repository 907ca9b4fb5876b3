import { Command } from 'commander';
import { CliError, EXIT } from './exit';

/** Every command path ("", "instance", "sg rule") with its sub-verbs and its options. */
const tree = (c: Command, path: string[] = [], out = new Map<string, { subs: string[]; opts: string[] }>()) => {
  const subs = c.commands.flatMap((s) => [s.name(), ...s.aliases()]);
  const opts = c.options.flatMap((o) => [o.long, o.short].filter((x): x is string => !!x));
  out.set(path.join(' '), { subs, opts: path.length === 0 ? opts : opts.concat('--help') });
  for (const s of c.commands) for (const n of [s.name(), ...s.aliases()]) tree(s, [...path, n], out);
  return out;
};

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A bash completion function made from the command tree itself, so it never
 * falls behind the verbs.
 */
export const bashCompletion = (root: Command): string => {
  const t = tree(root);
  const globals = t.get('')!.opts;
  // Keys start with the program's name: bash has no empty key in an associative array.
  const lines = [...t].map(([k, v]) => `  [${quote(k ? `hvctl ${k}` : 'hvctl')}]=${quote([...new Set([...v.subs, ...v.opts, ...globals])].join(' '))}`);
  return `# hvctl completion for bash: source <(hvctl completion bash)
_hvctl() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="hvctl" w i
  declare -A words=(
${lines.join('\n')}
  )
  # The verb path so far: the words before the cursor that are not options.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    if [[ -n "\${words["$path $w"]+x}" ]]; then path="$path $w"; fi
  done
  COMPREPLY=($(compgen -W "\${words["$path"]}" -- "$cur"))
}
complete -o default -F _hvctl hvctl
`;
};

/** The same tree as a native zsh completion function (compadd offers what fits the word being typed). */
export const zshCompletion = (root: Command): string => {
  const t = tree(root);
  const globals = t.get('')!.opts;
  const lines = [...t].map(([k, v]) => `    ${quote(k ? `hvctl ${k}` : 'hvctl')} ${quote([...new Set([...v.subs, ...v.opts, ...globals])].join(' '))}`);
  return `#compdef hvctl
# hvctl completion for zsh: source <(hvctl completion zsh), or save it as _hvctl on $fpath
_hvctl() {
  local -A tree
  tree=(
${lines.join('\n')}
  )
  local p=hvctl w i
  # The verb path so far: the words before the cursor that are not options.
  for (( i = 2; i < CURRENT; i++ )); do
    w=\${words[i]}
    [[ $w == -* ]] && continue
    (( \${+tree[$p $w]} )) && p="$p $w"
  done
  compadd -- \${=tree[$p]}
}
if (( $+functions[compdef] )); then compdef _hvctl hvctl; fi
`;
};

export const completionCommand = (root: Command): Command =>
  new Command('completion')
    .description('Print a shell completion script: source <(hvctl completion bash), or zsh')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      if (shell === 'bash') process.stdout.write(bashCompletion(root));
      else if (shell === 'zsh') process.stdout.write(zshCompletion(root));
      else throw new CliError(`INVALID_ARGUMENT: shell: "${shell}" is not bash or zsh`, EXIT.INVALID_ARGUMENT);
    });
