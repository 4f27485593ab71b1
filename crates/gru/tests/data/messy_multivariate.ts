# Messy multivariate example (Latin-1 comment: café µs)
%  another comment style

@ProblemName   MessyMulti
@timeStamps false
@MISSING true
@univariate false
@dimension 3
@dimensions 2
@equalLength false
   
@classLabel true a b
@ClassLabel true up down flat
# comment between header and data ÿþ
@Data
 1.5E-4 , 2.0,3 : 4, 5 ,6 : down 

?,1,?,?,4:0.5,?,?,?,-2.5e+1:up
% a comment in the data
	7:8	:flat	
-1e-3,  +2 ,?:10,20,30:up