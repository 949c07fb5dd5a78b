using System.Runtime.CompilerServices;

// The preview1 function logic is unit-tested against plain byte arrays.
[assembly: InternalsVisibleTo("Spindle.Wagi.Tests")]
