// Simple dual-port RAM: one write port, one synchronous read port (iCE40 EBR, Icarus array).
//
// A read of the address written in the same cycle returns the old word. The EBR leaves such a
// read undefined, so synthesis adds a bypass (a register and a comparator) to keep that order;
// RW_FREE = 1 says the caller never uses a word read in the cycle it is written, and synthesis
// leaves the bypass out. `re` gates the read (the output holds), which keeps idle cycles quiet
// in simulation and in the EBR.
`default_nettype none

module nt_ram #(
    parameter WIDTH = 32,
    parameter DEPTH = 256,
    parameter RW_FREE = 0              // 1: no bypass (see above)
) (
    input  wire                     clk,
    input  wire                     we,
    input  wire [$clog2(DEPTH)-1:0] waddr,
    input  wire [WIDTH-1:0]         wdata,
    input  wire                     re,
    input  wire [$clog2(DEPTH)-1:0] raddr,
    output reg  [WIDTH-1:0]         rdata
);
    generate
        if (RW_FREE != 0) begin : free
            (* no_rw_check *) reg [WIDTH-1:0] mem [0:DEPTH-1];
            always @(posedge clk) begin
                if (we) mem[waddr] <= wdata;
                if (re) rdata <= mem[raddr];
            end
        end else begin : bypassed
            reg [WIDTH-1:0] mem [0:DEPTH-1];
            always @(posedge clk) begin
                if (we) mem[waddr] <= wdata;
                if (re) rdata <= mem[raddr];
            end
        end
    endgenerate
endmodule

`default_nettype wire
