import SpoolKit
import SpoolSystem

enum CompletionsCommand: Command {
    static let name = "completions"
    static let synopsis = "bash|zsh|fish | ids"
    static let summary = "print a shell completion script (or the job ids, for it)"
    static let options: [OptionSpec] = []
    static let details = """
        bash:  source <(spool completions bash)       (or save it in
               ~/.local/share/bash-completion/completions/spool)
        zsh:   spool completions zsh > "${fpath[1]}/_spool"
        fish:  spool completions fish > ~/.config/fish/completions/spool.fish
        Commands, their options and job ids (of the spool named by --spool on the line, else
        $SPOOL_DIR, else ./spool) are completed. 'spool completions ids' prints the ids.
        """

    /// Commands whose words are job ids.
    static let takingIDs = ["show", "cancel", "retry", "hold", "release", "result", "logs", "wait"]

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        guard arguments.positionals.count == 1 else {
            throw .usage("spool completions: name a shell: bash, zsh or fish (or 'ids')")
        }
        switch arguments.positionals[0] {
        case "bash": Output.line(bash())
        case "zsh": Output.line(zsh())
        case "fish": Output.line(fish())
        case "ids":
            let listing = JobListing(spool: try openSpool(arguments))
            for state in JobState.allCases { for id in listing.ids(in: state) { Output.line(id) } }
        default:
            throw .usage("spool completions: unknown shell '\(arguments.positionals[0])' (bash, zsh or fish)")
        }
        return ExitCode.success
    }

    static var commands: [CommandEntry] { SpoolMain.commands }

    static func bash() -> String {
        var cases = ""
        for command in commands {
            cases += "        \(command.name)) options=\"\(command.options.joined(separator: " "))\" ;;\n"
        }
        let valueOptions = Set(commands.flatMap(\.valueOptions)).sorted().joined(separator: "|")
        return """
            # bash completion for spool: source <(spool completions bash)
            _spool() {
                local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
                if [ "$COMP_CWORD" -eq 1 ]; then
                    COMPREPLY=($(compgen -W "\(commands.map(\.name).joined(separator: " ")) help" -- "$cur"))
                    return
                fi
                local command=${COMP_WORDS[1]} options="" spool_arguments=() i
                case $command in
            \(cases)    esac
                case $prev in
                    --spool) COMPREPLY=($(compgen -d -- "$cur")); return ;;
                    \(valueOptions)) COMPREPLY=($(compgen -f -- "$cur")); return ;;
                esac
                if [[ $cur == -* ]]; then
                    COMPREPLY=($(compgen -W "$options" -- "$cur"))
                    return
                fi
                for ((i = 2; i < COMP_CWORD; i++)); do
                    if [ "${COMP_WORDS[i]}" = --spool ]; then spool_arguments=(--spool "${COMP_WORDS[i+1]}"); fi
                done
                case $command in
                    \(takingIDs.joined(separator: "|")))
                        COMPREPLY=($(compgen -W "$(spool completions ids "${spool_arguments[@]}" 2>/dev/null)" -- "$cur")) ;;
                    completions) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")) ;;
                    help) COMPREPLY=($(compgen -W "\(commands.map(\.name).joined(separator: " "))" -- "$cur")) ;;
                    *) COMPREPLY=($(compgen -f -- "$cur")) ;;
                esac
            }
            complete -F _spool spool
            """
    }

    static func zsh() -> String {
        var cases = ""
        for command in commands {
            cases += "    \(command.name)) options=(\(command.options.joined(separator: " "))) ;;\n"
        }
        return """
            #compdef spool
            # zsh completion for spool: spool completions zsh > "${fpath[1]}/_spool"
            _spool() {
              local -a commands options
              commands=(\(commands.map { "'\($0.name):\($0.summary.replacingOccurrences(of: "'", with: ""))'" }.joined(separator: " ")))
              if (( CURRENT == 2 )); then
                _describe command commands
                return
              fi
              case $words[2] in
            \(cases)  esac
              if [[ $PREFIX == -* ]]; then
                compadd -a options
                return
              fi
              case $words[2] in
                \(takingIDs.joined(separator: "|")))
                  local -a ids spool_arguments
                  local index=${words[(i)--spool]}
                  (( index < CURRENT )) && spool_arguments=(--spool ${words[index+1]})
                  ids=(${(f)"$(spool completions ids $spool_arguments 2>/dev/null)"})
                  compadd -a ids ;;
                completions) compadd bash zsh fish ;;
                *) _files ;;
              esac
            }
            compdef _spool spool
            """
    }

    static func fish() -> String {
        var lines = [
            "# fish completion for spool: spool completions fish > ~/.config/fish/completions/spool.fish",
            "complete -c spool -f",
            "function __spool_ids",
            "    set -l tokens (commandline -opc)",
            "    set -l index (contains -i -- --spool $tokens)",
            "    if test -n \"$index\"",
            "        spool completions ids --spool $tokens[(math $index + 1)] 2>/dev/null",
            "    else",
            "        spool completions ids 2>/dev/null",
            "    end",
            "end",
        ]
        for command in commands {
            lines.append(
                "complete -c spool -n __fish_use_subcommand -a \(command.name) -d '\(command.summary.replacingOccurrences(of: "'", with: ""))'"
            )
            for option in command.options {
                lines.append(
                    "complete -c spool -n '__fish_seen_subcommand_from \(command.name)' -l \(option.dropFirst(2))")
            }
        }
        lines.append(
            "complete -c spool -n '__fish_seen_subcommand_from \(takingIDs.joined(separator: " "))' -a '(__spool_ids)'")
        lines.append("complete -c spool -n '__fish_seen_subcommand_from completions' -a 'bash zsh fish'")
        return lines.joined(separator: "\n")
    }
}
