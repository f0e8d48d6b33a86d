// 32-bit counter: clear, or add one. With NT_ICE40_DSP defined it is a MAC16 accumulator (the
// adder and output register of an iCE40 DSP block) instead of 32 logic cells; otherwise logic.
`default_nettype none

module nt_count (
    input  wire        clk,
    input  wire        clr,            // count <= 0 (before inc)
    input  wire        inc,            // count <= count + 1
    output wire [31:0] count
);
`ifdef NT_ICE40_DSP
    // Each half adds its own output register (UPPERINPUT 0) and A = B = 0 (LOWERINPUT 0);
    // the low half's carry-in is 1 and the high half takes the low half's carry. OLOAD loads
    // C = D = 0, OHOLD keeps the count.
    SB_MAC16 #(
        .TOPOUTPUT_SELECT(2'd1), .TOPADDSUB_LOWERINPUT(2'd0), .TOPADDSUB_UPPERINPUT(1'b0),
        .TOPADDSUB_CARRYSELECT(2'd2), .BOTOUTPUT_SELECT(2'd1), .BOTADDSUB_LOWERINPUT(2'd0),
        .BOTADDSUB_UPPERINPUT(1'b0), .BOTADDSUB_CARRYSELECT(2'd1)
    ) acc (
        .CLK(clk), .CE(1'b1), .A(16'd0), .B(16'd0), .C(16'd0), .D(16'd0),
        .AHOLD(1'b0), .BHOLD(1'b0), .CHOLD(1'b0), .DHOLD(1'b0),
        .IRSTTOP(1'b0), .IRSTBOT(1'b0), .ORSTTOP(1'b0), .ORSTBOT(1'b0),
        .OLOADTOP(clr), .OLOADBOT(clr), .ADDSUBTOP(1'b0), .ADDSUBBOT(1'b0),
        .OHOLDTOP(!clr && !inc), .OHOLDBOT(!clr && !inc),
        .CI(1'b0), .ACCUMCI(1'b0), .SIGNEXTIN(1'b0), .O(count)
    );
`else
    reg [31:0] q;
    always @(posedge clk) begin
        if (clr) q <= 32'd0;
        else if (inc) q <= q + 32'd1;
    end
    assign count = q;
`endif
endmodule

`default_nettype wire
