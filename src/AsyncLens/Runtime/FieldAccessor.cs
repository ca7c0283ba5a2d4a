using System.Reflection;
using System.Reflection.Emit;

namespace AsyncLens.Runtime;

/// <summary>Compiled readers for private runtime fields: a field read, not a reflection call, per use.</summary>
internal static class FieldAccessor
{
    public const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
    public const BindingFlags Static = BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;

    /// <summary>A reader of <paramref name="field"/> taking the owner as object; null when the field is missing.</summary>
    public static Func<object, TValue>? Reader<TValue>(FieldInfo? field)
    {
        if (field is null || field.DeclaringType is not { } owner || !typeof(TValue).IsAssignableFrom(field.FieldType) && typeof(TValue) != typeof(object))
            return null;
        try
        {
            var method = new DynamicMethod($"read_{field.Name}", typeof(TValue), [typeof(object)], typeof(FieldAccessor).Module, skipVisibility: true);
            var il = method.GetILGenerator();
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(owner.IsValueType ? OpCodes.Unbox : OpCodes.Castclass, owner);
            il.Emit(OpCodes.Ldfld, field);
            if (field.FieldType.IsValueType && !typeof(TValue).IsValueType)
                il.Emit(OpCodes.Box, field.FieldType);
            il.Emit(OpCodes.Ret);
            return method.CreateDelegate<Func<object, TValue>>();
        }
        catch (Exception ex) when (ex is InvalidProgramException or NotSupportedException or ArgumentException or MemberAccessException)
        {
            return o => (TValue)field.GetValue(o)!;
        }
    }

    public static Func<object, TValue>? Reader<TValue>(Type? owner, string name) => Reader<TValue>(owner?.GetField(name, Instance));

    /// <summary>
    /// A reader of <c>owner.path[0].path[1]...</c> (struct fields read in place, not copied), the last value
    /// boxed if it is a struct. Reading through a null reference throws <see cref="NullReferenceException"/>.
    /// </summary>
    public static Func<object, object?> PathReader(Type owner, IReadOnlyList<FieldInfo> path)
    {
        try
        {
            var method = new DynamicMethod("read_path", typeof(object), [typeof(object)], typeof(FieldAccessor).Module, skipVisibility: true);
            var il = method.GetILGenerator();
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(owner.IsValueType ? OpCodes.Unbox : OpCodes.Castclass, owner);
            for (var i = 0; i < path.Count; i++)
                il.Emit(i < path.Count - 1 && path[i].FieldType.IsValueType ? OpCodes.Ldflda : OpCodes.Ldfld, path[i]);
            if (path[^1].FieldType.IsValueType)
                il.Emit(OpCodes.Box, path[^1].FieldType);
            il.Emit(OpCodes.Ret);
            return method.CreateDelegate<Func<object, object?>>();
        }
        catch (Exception ex) when (ex is InvalidProgramException or NotSupportedException or ArgumentException or MemberAccessException)
        {
            return o =>
            {
                object? value = o;
                foreach (var field in path)
                    value = value is null ? throw new NullReferenceException() : field.GetValue(value);
                return value;
            };
        }
    }
}
