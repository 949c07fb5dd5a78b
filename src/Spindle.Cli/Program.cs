Console.WriteLine("spindle");
