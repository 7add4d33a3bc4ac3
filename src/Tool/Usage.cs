namespace XlaGen.Tool;

static class Usage
{
    public const string Main = """
        xlagen: XlaGen's command-line tool

        usage: xlagen COMMAND [arguments]   (xlagen COMMAND --help for each)

        commands:
          devices [SPEC]                what is there: platform, versions, devices with kind and memory
          hlo print FILE                an HLO module (text or HloModuleProto) as HLO text
          hlo convert IN OUT            HLO text <-> HloModuleProto
          hlo run FILE [options]        run a module on a device: inputs from .npy files or seeded random, outputs to .npy
          inspect FILE                  the tensors of a safetensors, Keras (.h5, .weights.h5, .keras) or .npy file
          serve [options]               run xlagen-server (same options: xlagen serve --help)

        exit codes:
          0  done
          1  runtime failure (a module did not compile or run, an output could not be written)
          2  usage error (unknown command or option, a missing or malformed argument)
          3  bad input file (missing, unreadable, malformed, or a format the command does not read)
          4  the device could not be opened or reached
        """;
}
