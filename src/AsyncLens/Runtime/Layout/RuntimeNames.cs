namespace AsyncLens.Runtime.Layout;

/// <summary>
/// A runtime type's name as a definition, the one spelling both readers compare with the layout's names: reflection
/// writes <c>System.Threading.Tasks.Task+WhenAllPromise`1</c>, the runtime (ClrMD) writes
/// <c>System.Threading.Tasks.Task+WhenAllPromise&lt;System.String&gt;</c>; both are
/// <c>System.Threading.Tasks.Task+WhenAllPromise</c>.
/// </summary>
internal static class RuntimeNames
{
    public static string Definition(Type type) =>
        Definition((type.IsGenericType && !type.IsGenericTypeDefinition ? type.GetGenericTypeDefinition() : type).FullName ?? type.Name);

    /// <summary>
    /// The name without generic arguments (the runtime's <c>&lt;...&gt;</c>) and arities (reflection's <c>`1</c>).
    /// Compiler-made names (<c>&lt;Main&gt;d__0</c>, <c>&lt;&lt;Run&gt;g__Local|0_0&gt;d</c>: a <c>&lt;</c> that starts a
    /// name) are kept whole.
    /// </summary>
    public static string Definition(string? name)
    {
        if (name is null)
            return "";
        var sb = new System.Text.StringBuilder(name.Length);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (c == '<')
            {
                var close = Closing(name, i);
                if (i == 0 || name[i - 1] is '+' or '.')
                    sb.Append(name, i, close - i + 1);
                i = close;
                continue;
            }
            if (c == '`')
            {
                while (i + 1 < name.Length && char.IsAsciiDigit(name[i + 1]))
                    i++;
                continue;
            }
            sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>The index of the '&gt;' closing the '&lt;' at <paramref name="open"/> (or the last character, if it is never closed).</summary>
    public static int Closing(string name, int open)
    {
        var depth = 0;
        for (var i = open; i < name.Length; i++)
        {
            if (name[i] == '<')
                depth++;
            else if (name[i] == '>' && --depth == 0)
                return i;
        }
        return name.Length - 1;
    }
}
