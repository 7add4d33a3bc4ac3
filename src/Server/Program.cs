// xlagen-server: see ServerMain (the entry point, shared with `xlagen serve`) and ServerOptions (the command line).
return await XlaGen.Server.ServerMain.RunAsync(args);
