// Synaptic weight memory: one port, LANES signed 8-bit weights per word, written 32 bits at a
// time (a chunk of four lanes) and read a whole word at a time.
//
// The core reads it while it runs a step and the configuration port writes it only while the
// core is idle, so one address port suffices. That is the shape of the UP5K's single-port
// SPRAM (16K x 16 each): with NT_ICE40_SPRAM defined, each chunk uses two SB_SPRAM256KA side by
// side; otherwise the behavioural array below is used (simulation, other targets).
`default_nettype none

module nt_wmem #(
    parameter LANES = 4,               // a multiple of 4
    parameter DEPTH = 16384
) (
    input  wire                     clk,
    input  wire [$clog2(DEPTH)-1:0] addr,
    input  wire                     re,
    input  wire                     we,
    input  wire [LANES/4-1:0]       chunk_we,
    input  wire [31:0]              wdata,
    output wire [8*LANES-1:0]       rdata
);
    localparam CHUNKS = LANES / 4;

`ifdef NT_ICE40_SPRAM
    // 14-bit address: DEPTH must be 16384 (the synthesis script builds that size).
    genvar c;
    generate
        for (c = 0; c < CHUNKS; c = c + 1) begin : chunk
            wire write = we && chunk_we[c];
            SB_SPRAM256KA lo (
                .ADDRESS(addr), .DATAIN(wdata[15:0]), .MASKWREN(4'b1111), .WREN(write),
                .CHIPSELECT(re || write), .CLOCK(clk), .STANDBY(1'b0), .SLEEP(1'b0),
                .POWEROFF(1'b1), .DATAOUT(rdata[32*c +: 16])
            );
            SB_SPRAM256KA hi (
                .ADDRESS(addr), .DATAIN(wdata[31:16]), .MASKWREN(4'b1111), .WREN(write),
                .CHIPSELECT(re || write), .CLOCK(clk), .STANDBY(1'b0), .SLEEP(1'b0),
                .POWEROFF(1'b1), .DATAOUT(rdata[32*c + 16 +: 16])
            );
        end
    endgenerate
`else
    // One array of whole words, written a chunk at a time.
    reg [8*LANES-1:0] mem [0:DEPTH-1];
    reg [8*LANES-1:0] q;
    integer c;
    always @(posedge clk) begin
        if (we)
            for (c = 0; c < CHUNKS; c = c + 1)
                if (chunk_we[c]) mem[addr][32*c +: 32] <= wdata;
        if (re) q <= mem[addr];
    end
    assign rdata = q;
`endif
endmodule

`default_nettype wire
