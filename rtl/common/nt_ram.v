// Simple dual-port RAM: one write port, one synchronous read port (iCE40 EBR, Icarus array).
//
// A read of the address written in the same cycle returns the old word; the core never relies
// on either order because a word is not read and written in one cycle. `re` gates the read (the
// output holds), which keeps idle cycles quiet in simulation and in the EBR.
`default_nettype none

module nt_ram #(
    parameter WIDTH = 32,
    parameter DEPTH = 256
) (
    input  wire                     clk,
    input  wire                     we,
    input  wire [$clog2(DEPTH)-1:0] waddr,
    input  wire [WIDTH-1:0]         wdata,
    input  wire                     re,
    input  wire [$clog2(DEPTH)-1:0] raddr,
    output reg  [WIDTH-1:0]         rdata
);
    reg [WIDTH-1:0] mem [0:DEPTH-1];

    always @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
        if (re) rdata <= mem[raddr];
    end
endmodule

`default_nettype wire
