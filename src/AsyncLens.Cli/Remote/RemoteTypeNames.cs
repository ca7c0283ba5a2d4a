using System.Text;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// The runtime's spelling of a type's name, as ClrMD reads it from another process
/// (<c>Ns.KestrelConnection&lt;Ns.ConnectionContext&gt;+&lt;ExecuteAsync&gt;d__8</c>), taken apart: the definition as
/// reflection names it (<c>Ns.KestrelConnection`1+&lt;ExecuteAsync&gt;d__8</c>) and the generic arguments, outer types'
/// first, as reflection orders them. Compiler-made names (<c>&lt;Main&gt;d__0</c>, <c>&lt;&lt;Run&gt;g__Local|0_0&gt;d</c>)
/// are names, not arguments.
/// </summary>
internal static class RemoteTypeNames
{
    /// <summary>The code shared by instantiations over reference types: not a type anybody wrote.</summary>
    public const string Canon = "System.__Canon";

    public static (string Definition, List<string> Arguments, string ArraySuffix) Parse(string name)
    {
        var suffix = "";
        while (name.EndsWith(']') && name.LastIndexOf('[') is var open and > 0 && name[(open + 1)..^1].All(c => c == ','))
        {
            suffix = name[open..] + suffix;
            name = name[..open];
        }
        var definition = new StringBuilder(name.Length);
        var arguments = new List<string>();
        var i = 0;
        while (true)
        {
            var start = i;
            while (i < name.Length && name[i] != '+')
            {
                if (name[i] == '<')
                {
                    var close = RuntimeNames.Closing(name, i);
                    if (i == start || name[i - 1] == '.')
                    {
                        definition.Append(name, i, close - i + 1); // a compiler-made name
                    }
                    else
                    {
                        var list = Split(name[(i + 1)..close]);
                        definition.Append('`').Append(list.Count);
                        arguments.AddRange(list);
                    }
                    i = close + 1;
                    continue;
                }
                definition.Append(name[i++]);
            }
            if (i >= name.Length)
                break;
            definition.Append('+');
            i++;
        }
        return (definition.ToString(), arguments, suffix);
    }

    /// <summary>The last generic argument of the name's innermost type: a box type's state machine.</summary>
    public static string? LastArgument(string? name) => name is null ? null : Parse(name).Arguments is [.., var last] ? last : null;

    private static List<string> Split(string list)
    {
        var parts = new List<string>();
        var depth = 0;
        var start = 0;
        for (var i = 0; i < list.Length; i++)
        {
            depth += list[i] is '<' or '[' ? 1 : list[i] is '>' or ']' ? -1 : 0;
            if (list[i] == ',' && depth == 0)
            {
                parts.Add(list[start..i].Trim());
                start = i + 1;
            }
        }
        parts.Add(list[start..].Trim());
        return parts;
    }
}
