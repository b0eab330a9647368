// int64 wire fields are JS numbers in Conveyor (offsets and timestamps stay far below 2^53).
// protobufjs decodes int64 to Long whenever the `long` package is installed (it is, through
// grpc-js), whatever pbjs --force-number says; turning Long off here, before the generated module
// loads and captures its defaults, makes every decoded int64 a number.
import protobuf from 'protobufjs/minimal.js';

protobuf.util.Long = null as unknown as typeof protobuf.util.Long;
protobuf.configure();
