[assembly: AssemblyFixture(typeof(XlaGen.Server.Tests.SharedServer))]
