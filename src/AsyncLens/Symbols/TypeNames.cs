using System.Text;

namespace AsyncLens.Symbols;

/// <summary>C# spelling of a type, without namespaces: <c>int</c>, <c>List&lt;string&gt;</c>, <c>(int, User)</c>, <c>Shop.Item</c>.</summary>
internal static class TypeNames
{
    public static string Format(Type type, GenericContext context = default)
    {
        var sb = new StringBuilder();
        Append(sb, type, context);
        return sb.ToString();
    }

    public static void Append(StringBuilder sb, Type type, GenericContext context)
    {
        if (type.IsGenericParameter)
        {
            var bound = context.Resolve(type);
            if (bound is null)
                sb.Append(type.Name);
            else
                Append(sb, bound, default);
            return;
        }
        if (type.IsByRef || type.IsPointer)
        {
            Append(sb, type.GetElementType()!, context);
            sb.Append(type.IsPointer ? "*" : "");
            return;
        }
        if (type.IsArray)
        {
            Append(sb, type.GetElementType()!, context);
            sb.Append('[').Append(',', type.GetArrayRank() - 1).Append(']');
            return;
        }
        if (Keyword(type) is { } keyword)
        {
            sb.Append(keyword);
            return;
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition().FullName == typeof(Nullable<>).FullName)
        {
            Append(sb, type.GetGenericArguments()[0], context);
            sb.Append('?');
            return;
        }
        if (type.IsGenericType && type.FullName?.StartsWith("System.ValueTuple`", StringComparison.Ordinal) == true)
        {
            sb.Append('(');
            AppendList(sb, type.GetGenericArguments(), context);
            sb.Append(')');
            return;
        }

        AppendNamed(sb, type, type.IsGenericType ? type.GetGenericArguments() : [], context);
    }

    // A nested generic type lists its outer types' arguments first: Outer<A>.Inner<B> has [A, B].
    private static void AppendNamed(StringBuilder sb, Type type, Type[] args, GenericContext context)
    {
        var consumed = 0;
        if (type.IsNested && type.DeclaringType is { } outer)
        {
            consumed = Math.Min(outer.IsGenericTypeDefinition ? outer.GetGenericArguments().Length : 0, args.Length);
            AppendNamed(sb, outer, args[..consumed], context);
            sb.Append('.');
        }
        var name = type.Name;
        var tick = name.IndexOf('`');
        sb.Append(tick >= 0 ? name[..tick] : name);
        if (args.Length > consumed)
        {
            sb.Append('<');
            AppendList(sb, args[consumed..], context);
            sb.Append('>');
        }
    }

    private static void AppendList(StringBuilder sb, Type[] types, GenericContext context)
    {
        for (var i = 0; i < types.Length; i++)
        {
            if (i > 0)
                sb.Append(", ");
            Append(sb, types[i], context);
        }
    }

    private static string? Keyword(Type type) => Type.GetTypeCode(type) switch
    {
        TypeCode.Boolean => "bool",
        TypeCode.Byte => "byte",
        TypeCode.SByte => "sbyte",
        TypeCode.Char => "char",
        TypeCode.Int16 => "short",
        TypeCode.UInt16 => "ushort",
        TypeCode.Int32 => type.IsEnum ? null : "int",
        TypeCode.UInt32 => type.IsEnum ? null : "uint",
        TypeCode.Int64 => type.IsEnum ? null : "long",
        TypeCode.UInt64 => type.IsEnum ? null : "ulong",
        TypeCode.Single => "float",
        TypeCode.Double => "double",
        TypeCode.Decimal => "decimal",
        TypeCode.String => "string",
        // By name, not by identity: types read from another process's files are not typeof(object).
        _ => type.FullName switch
        {
            "System.Object" => "object",
            "System.Void" => "void",
            "System.IntPtr" => "nint",
            "System.UIntPtr" => "nuint",
            _ => null,
        },
    };
}

/// <summary>Type arguments of a closed state machine, used to print <c>Repo&lt;User&gt;.Get(int)</c> instead of <c>Repo&lt;T&gt;</c>.</summary>
internal readonly record struct GenericContext(Type[]? TypeArguments, Type[]? MethodArguments)
{
    public Type? Resolve(Type parameter)
    {
        var args = parameter.DeclaringMethod is null ? TypeArguments : MethodArguments;
        var position = parameter.GenericParameterPosition;
        return args is not null && position < args.Length && !args[position].IsGenericParameter ? args[position] : null;
    }
}
