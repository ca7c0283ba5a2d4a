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
}
